// SPDX-License-Identifier: Apache-2.0
// Histograms with uniform bins over [low, high), filled with SIMD (Highway, run-time dispatch).
// Values below low count as underflow, at or above high as overflow, NaNs apart; -inf is
// underflow, +inf overflow. Every bin is half-open [lo, hi), the last one too, so a value equal
// to high is overflow — NumPy closes its last bin instead; HighEdge::last_bin asks for NumPy's
// rule (high goes into the last bin, only values above it are overflow). bin(x) = floor((x - low) * bins / (high - low)), evaluated in double
// exactly in that order (a true division: a value whose quotient is an integer k lands in bin k),
// clamped to the last bin against rounding just below high. Every type is converted to double
// first (exact for f32, i32 and u8; i64 rounds beyond 2^53).
//
//   strata::kernels::Histogram h(0.0, 100.0, 64);
//   h.add(std::span<const double>(values));
//   h.merge(other);                    // partial histograms from threads or ranks
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace strata::kernels {

// Where a value equal to `high` is counted.
enum class HighEdge { overflow, last_bin };

class Histogram {
 public:
  // No bins, range [0, 1): the identity of merge (it adopts the first histogram merged in).
  // add() on it counts NaNs, values below 0 as underflow, and all others as overflow.
  Histogram() = default;
  // Throws std::invalid_argument unless low < high (both finite), 1 <= bins <= 2^24, and
  // (high - low) * bins is finite.
  Histogram(double low, double high, std::size_t bins, HighEdge high_edge = HighEdge::overflow);

  void add(std::span<const float> values) noexcept;
  void add(std::span<const double> values) noexcept;
  void add(std::span<const std::int32_t> values) noexcept;
  void add(std::span<const std::int64_t> values) noexcept;
  void add(std::span<const std::uint8_t> values) noexcept;
  // Adds another histogram's counts. Throws std::invalid_argument when low, high, the number
  // of bins or the HighEdge differ (unless one side is an empty default-constructed histogram).
  void merge(const Histogram& other);

  double low() const noexcept { return low_; }
  double high() const noexcept { return high_; }
  HighEdge high_edge() const noexcept { return high_edge_; }
  std::size_t bins() const noexcept { return counts_.size(); }
  const std::vector<std::uint64_t>& counts() const noexcept { return counts_; }
  std::uint64_t underflow() const noexcept { return underflow_; }
  std::uint64_t overflow() const noexcept { return overflow_; }
  std::uint64_t nan_count() const noexcept { return nan_count_; }
  // Every value seen: bins + underflow + overflow + NaNs.
  std::uint64_t total() const noexcept;
  // Lower edge of bin i, low + (high - low) * i / bins, for labels; edge(bins) is high.
  double edge(std::size_t i) const noexcept;

  // For moving between ranks: a self-describing byte image, and back (std::invalid_argument if
  // malformed). Little-endian: u32 magic "HIST", u32 version 2, f64 low, f64 high, u64 bins,
  // u64 underflow, u64 overflow, u64 NaNs, u64 flags (bit 0: HighEdge::last_bin), then the
  // bins' u64 counts.
  std::vector<std::byte> serialize() const;
  static Histogram deserialize(std::span<const std::byte> bytes);

  friend bool operator==(const Histogram&, const Histogram&) = default;

 private:
  double low_ = 0.0;
  double high_ = 1.0;
  HighEdge high_edge_ = HighEdge::overflow;
  std::vector<std::uint64_t> counts_;
  std::uint64_t underflow_ = 0;
  std::uint64_t overflow_ = 0;
  std::uint64_t nan_count_ = 0;
};

}  // namespace strata::kernels
