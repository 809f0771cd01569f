// SPDX-License-Identifier: Apache-2.0
// Streaming statistics: count, sum, min, max, mean and variance of a span, computed with SIMD
// (Highway, dispatched at run time) and numerically sound — compensated/pairwise sums within a
// span, Chan et al.'s pairwise update when partial results merge — so results over 10^8 values
// agree with a long-double reference to 1e-12 relative, whatever the chunking or rank count.
//
//   strata::kernels::Stats s;
//   s.add(std::span<const double>(values));     // any number of times, any chunking
//   s.merge(other);                             // partial results from other threads or ranks
//   double sd = s.stddev();
//
// How: a span is cut into blocks of 2048 values; each block gets two passes while it sits in L1
// (its mean, then the deviations from it), so a large common offset never enters m2. Blocks merge
// pairwise (a binary tree), and `sum` travels with its rounding error in `sum_low`. f32 values
// accumulate in f64; integers are converted to f64 (exact up to 2^53 in magnitude). docs/kernels.md
// has the details.
//
// NaN policy: NaNs are not values — they are counted in nan_count and skipped. Infinities are
// values: they enter min, max and the sum, so the mean becomes +-inf (NaN if both signs occur)
// and m2 becomes NaN, as IEEE arithmetic on the definitions says.
#pragma once

#include <cstdint>
#include <limits>
#include <span>

namespace strata::kernels {

struct Stats {
  std::uint64_t count = 0;      // values seen, NaNs excluded
  std::uint64_t nan_count = 0;  // NaNs seen (floating types only)
  double sum = 0.0;             // the best double for the sum (see sum_low)
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double mean = 0.0;
  double m2 = 0.0;  // sum of squared deviations from the mean
  // The rounding error of `sum` (sum + sum_low is the sum to about twice double precision), so
  // that merging thousands of partials keeps the sum exact to the last bit of `sum`. Send it
  // along with the other fields when partials cross ranks.
  double sum_low = 0.0;

  // Adds every value of the span. noexcept hot path; f32 accumulates in f64.
  void add(std::span<const float> values) noexcept;
  void add(std::span<const double> values) noexcept;
  void add(std::span<const std::int32_t> values) noexcept;
  void add(std::span<const std::int64_t> values) noexcept;
  // Chan, Golub and LeVeque's pairwise combination; exact for counts, min and max, sound for
  // mean and m2, double-double for the sum. Merging an empty Stats changes nothing but nan_count.
  void merge(const Stats& other) noexcept;

  double variance() const noexcept { return count ? m2 / static_cast<double>(count) : 0.0; }
  double sample_variance() const noexcept {
    return count > 1 ? m2 / static_cast<double>(count - 1) : 0.0;
  }
  double stddev() const noexcept;
};

}  // namespace strata::kernels
