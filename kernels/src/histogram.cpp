// SPDX-License-Identifier: Apache-2.0
// Histogram filling: bin indices computed with SIMD (one source compiled per Highway target,
// dispatched at run time), then counted by a scalar scatter into four interleaved sub-histograms
// so that runs of equal bins do not wait on each other's store. Bytes count by value first.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/kernels/histogram.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "histogram.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include "widen_to_f64-inl.h"

HWY_BEFORE_NAMESPACE();
namespace strata::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Extended indices of p[0, n) into out: 0 underflow, 1 + bin(x), bins + 1 overflow, bins + 2
// NaN. bin(x) = floor((x - low) * bins / (high - low)) exactly as written (a true division, so
// a value whose quotient is an integer lands on that bin, as integer data often does), clamped
// to bins - 1 against rounding up just below high (and for high itself when over_at is above
// it). Values >= over_at are overflow: high, or the next double up for HighEdge::last_bin.
// n is a multiple of Lanes(d).
//
// A vector division costs more than the rest of the loop together (16 cycles for 8 lanes on
// Intel cores), so the quotient is first taken as a product with 1 / (high - low). That differs
// from the division by at most 3 ulps; when y - 16 ulps and y + 16 ulps have the same floor in
// every lane, that floor is the division's, and otherwise (an edge, or integer data landing on
// one) the vector is divided for real. Bit-identical to the rule either way.
//
// The loop prefetches `ahead_bytes` on (the caller's next batch): the scatter between batches
// leaves the hardware prefetcher behind, and on a Sapphire Rapids core a 256 MiB f64 span went
// from ~5 to ~7 GB/s with it. Prefetches never fault, so running past the span is harmless.
template <class D, typename T>
HWY_INLINE void bin_indices(D d, const T* HWY_RESTRICT p, std::size_t n, std::size_t ahead_bytes,
                            double low, double high, double over_at, double bins,
                            std::uint32_t* HWY_RESTRICT out) {
  const hn::Rebind<std::int32_t, D> di;
  const auto low_v = hn::Set(d, low);
  const auto over_at_v = hn::Set(d, over_at);
  const auto bins_v = hn::Set(d, bins);
  const auto range_v = hn::Set(d, high - low);
  const auto inverse_range_v = hn::Set(d, 1.0 / (high - low));
  const auto slack_v = hn::Set(d, 0x1.0p-49);  // 16 ulps, relative
  const auto last_v = hn::Set(d, bins - 1.0);
  const auto one = hn::Set(d, 1.0);
  const auto over_v = hn::Set(d, bins + 1.0);
  const auto nan_v = hn::Set(d, bins + 2.0);
  const std::size_t lanes = hn::Lanes(d);
  for (std::size_t i = 0; i < n; i += lanes) {
    hwy::Prefetch(
        reinterpret_cast<const T*>(reinterpret_cast<std::uintptr_t>(p + i) + ahead_bytes));
    const auto v = load_f64(d, p + i);
    const auto scaled = hn::Mul(hn::Sub(v, low_v), bins_v);
    const auto y = hn::Mul(scaled, inverse_range_v);
    const auto slack = hn::Mul(hn::Abs(y), slack_v);
    auto q = hn::Floor(hn::Sub(y, slack));
    // Lt is false for NaN lanes (they are replaced below), so NaNs do not force the division.
    if (HWY_UNLIKELY(!hn::AllFalse(d, hn::Lt(q, hn::Floor(hn::Add(y, slack)))))) {
      q = hn::Floor(hn::Div(scaled, range_v));
    }
    auto index = hn::Add(hn::Min(q, last_v), one);
    index = hn::IfThenZeroElse(hn::Lt(v, low_v), index);
    index = hn::IfThenElse(hn::Ge(v, over_at_v), over_v, index);
    index = hn::IfThenElse(hn::IsNaN(v), nan_v, index);
    // Small non-negative integers: the conversion is exact.
    hn::StoreU(hn::DemoteTo(di, index), di, reinterpret_cast<std::int32_t*>(out + i));
  }
}

template <typename T>
void bin_indices_span(const T* HWY_RESTRICT p, std::size_t n, double low, double high,
                      double over_at, double bins, std::uint32_t* HWY_RESTRICT out) {
  const hn::ScalableTag<double> d;
  const hn::CappedTag<double, 1> d1;  // the remainder, through the same operations
  const std::size_t body = n - n % hn::Lanes(d);
  bin_indices(d, p, body, n * sizeof(T), low, high, over_at, bins, out);
  bin_indices(d1, p + body, n - body, n * sizeof(T), low, high, over_at, bins, out + body);
}

void bin_indices_f32(const float* p, std::size_t n, double low, double high, double over_at,
                     double bins, std::uint32_t* out) {
  bin_indices_span(p, n, low, high, over_at, bins, out);
}
void bin_indices_f64(const double* p, std::size_t n, double low, double high, double over_at,
                     double bins, std::uint32_t* out) {
  bin_indices_span(p, n, low, high, over_at, bins, out);
}
void bin_indices_i32(const std::int32_t* p, std::size_t n, double low, double high, double over_at,
                     double bins, std::uint32_t* out) {
  bin_indices_span(p, n, low, high, over_at, bins, out);
}
void bin_indices_i64(const std::int64_t* p, std::size_t n, double low, double high, double over_at,
                     double bins, std::uint32_t* out) {
  bin_indices_span(p, n, low, high, over_at, bins, out);
}

}  // namespace HWY_NAMESPACE
}  // namespace strata::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace strata::kernels {
namespace {

HWY_EXPORT(bin_indices_f32);
HWY_EXPORT(bin_indices_f64);
HWY_EXPORT(bin_indices_i32);
HWY_EXPORT(bin_indices_i64);

template <typename T>
using BinIndicesFn = void (*)(const T*, std::size_t, double, double, double, double,
                              std::uint32_t*);

// The first value counted as overflow: high itself, or (NumPy's rule) the next double above it.
double over_at(const Histogram& h) noexcept {
  return h.high_edge() == HighEdge::last_bin
             ? std::nextafter(h.high(), std::numeric_limits<double>::infinity())
             : h.high();
}

constexpr std::size_t kMaxBins = std::size_t{1} << 24;
// Indices computed per batch: 8 KiB of them stay in L1 between the SIMD pass and the scatter.
constexpr std::size_t kBatch = 2048;
// Sub-histograms: four independent counters per bin, so that a run of values in one bin makes
// four chains of increments, not one chain through the store-to-load forwarding latency.
constexpr std::size_t kSubHistograms = 4;
// 32-bit sub-counters cover at most 2^31 values before they fold into the 64-bit counts.
constexpr std::size_t kFoldEvery = std::size_t{1} << 31;
// Sub-histograms pay for themselves when the span is this many times their size; smaller spans
// (or very many bins, where equal neighbours are rare anyway) count straight into the result.
constexpr std::size_t kSubHistogramMinRatio = 8;
constexpr std::size_t kSubHistogramMaxBins = std::size_t{1} << 20;
constexpr std::size_t kStackCounters = 4096;  // 16 KiB on the stack; larger ones go to the heap

constexpr std::uint32_t kMagic = 0x54534948;  // "HIST" read as little-endian bytes
constexpr std::uint32_t kVersion = 2;
constexpr std::size_t kHeaderBytes = 4 + 4 + 7 * 8;

}  // namespace

Histogram::Histogram(double low, double high, std::size_t bins, HighEdge high_edge)
    : low_(low), high_(high), high_edge_(high_edge) {
  if (!std::isfinite(low) || !std::isfinite(high) || !(low < high)) {
    throw std::invalid_argument("Histogram: need finite low < high, got [" + std::to_string(low) +
                                ", " + std::to_string(high) + ")");
  }
  if (bins < 1 || bins > kMaxBins) {
    throw std::invalid_argument("Histogram: bins must be in 1 .. 2^24, got " +
                                std::to_string(bins));
  }
  // The bin rule multiplies (x - low) by bins before dividing by the range: both must be finite.
  if (!std::isfinite((high - low) * static_cast<double>(bins))) {
    throw std::invalid_argument("Histogram: (high - low) * bins overflows a double");
  }
  counts_.assign(bins, 0);
}

namespace {

// Counts extended indices (see bin_indices) into the histogram's fields.
class Counter {
 public:
  Counter(std::uint64_t* counts, std::size_t bins, std::uint64_t& underflow,
          std::uint64_t& overflow, std::uint64_t& nan_count)
      : counts_(counts), bins_(bins), underflow_(underflow), overflow_(overflow),
        nan_count_(nan_count) {}

  // Straight into the 64-bit counts: no set-up cost, for small spans.
  void count_direct(const std::uint32_t* index, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) add_extended(index[i], 1);
  }

  void add_extended(std::size_t index, std::uint64_t how_many) noexcept {
    if (index - 1 < bins_) {  // wraps for index 0
      counts_[index - 1] += how_many;
    } else if (index == 0) {
      underflow_ += how_many;
    } else if (index == bins_ + 1) {
      overflow_ += how_many;
    } else {
      nan_count_ += how_many;
    }
  }

 private:
  std::uint64_t* counts_;
  std::size_t bins_;
  std::uint64_t& underflow_;
  std::uint64_t& overflow_;
  std::uint64_t& nan_count_;
};

// kSubHistograms interleaved 32-bit histograms over the extended indices.
class SubHistograms {
 public:
  explicit SubHistograms(std::size_t extended) : extended_(extended) {
    const std::size_t size = kSubHistograms * extended;
    if (size <= stack_.size()) {
      data_ = stack_.data();
      std::fill_n(data_, size, 0u);
    } else {
      heap_.reset(new (std::nothrow) std::uint32_t[size]());
      data_ = heap_.get();
    }
  }
  bool ok() const noexcept { return data_ != nullptr; }

  void count(const std::uint32_t* index, std::size_t n) noexcept {
    std::uint32_t* const s0 = data_;
    std::uint32_t* const s1 = s0 + extended_;
    std::uint32_t* const s2 = s1 + extended_;
    std::uint32_t* const s3 = s2 + extended_;
    std::size_t i = 0;
    for (; i + kSubHistograms <= n; i += kSubHistograms) {
      ++s0[index[i]];
      ++s1[index[i + 1]];
      ++s2[index[i + 2]];
      ++s3[index[i + 3]];
    }
    for (; i < n; ++i) ++s0[index[i]];
  }

  void fold_into(Counter& counter) noexcept {
    for (std::size_t e = 0; e < extended_; ++e) {
      std::uint64_t total = 0;
      for (std::size_t k = 0; k < kSubHistograms; ++k) {
        total += data_[k * extended_ + e];
        data_[k * extended_ + e] = 0;
      }
      if (total != 0) counter.add_extended(e, total);
    }
  }

 private:
  std::size_t extended_;
  std::array<std::uint32_t, kStackCounters> stack_;
  std::unique_ptr<std::uint32_t[]> heap_;
  std::uint32_t* data_ = nullptr;
};

// Bins that hold no bins (a default-constructed histogram): NaNs apart, everything else is
// below low or not.
template <typename T>
void add_without_bins(std::span<const T> values, double low, std::uint64_t& underflow,
                      std::uint64_t& overflow, std::uint64_t& nan_count) noexcept {
  for (T v : values) {
    const double x = static_cast<double>(v);
    if (std::isnan(x)) {
      ++nan_count;
    } else if (x < low) {
      ++underflow;
    } else {
      ++overflow;
    }
  }
}

}  // namespace

template <typename T>
static void add_values(Histogram& h, std::span<const T> values, BinIndicesFn<T> bin_indices,
                       std::uint64_t* counts, std::uint64_t& underflow, std::uint64_t& overflow,
                       std::uint64_t& nan_count) noexcept {
  const std::size_t bins = h.bins();
  if (bins == 0) {
    add_without_bins(values, h.low(), underflow, overflow, nan_count);
    return;
  }
  Counter counter(counts, bins, underflow, overflow, nan_count);
  const std::size_t extended = bins + 3;
  std::array<std::uint32_t, kBatch> index;
  const double bins_d = static_cast<double>(bins);
  const bool use_sub = bins <= kSubHistogramMaxBins &&
                       values.size() >= kSubHistogramMinRatio * kSubHistograms * extended;
  if (use_sub) {
    SubHistograms sub(extended);
    if (sub.ok()) {
      for (std::size_t piece = 0; piece < values.size(); piece += kFoldEvery) {
        const std::size_t piece_end = std::min(values.size(), piece + kFoldEvery);
        for (std::size_t i = piece; i < piece_end; i += kBatch) {
          const std::size_t n = std::min(kBatch, piece_end - i);
          bin_indices(values.data() + i, n, h.low(), h.high(), over_at(h), bins_d, index.data());
          sub.count(index.data(), n);
        }
        sub.fold_into(counter);
      }
      return;
    }
  }
  for (std::size_t i = 0; i < values.size(); i += kBatch) {
    const std::size_t n = std::min(kBatch, values.size() - i);
    bin_indices(values.data() + i, n, h.low(), h.high(), over_at(h), bins_d, index.data());
    counter.count_direct(index.data(), n);
  }
}

void Histogram::add(std::span<const float> values) noexcept {
  add_values(*this, values, HWY_DYNAMIC_DISPATCH(bin_indices_f32), counts_.data(), underflow_,
             overflow_, nan_count_);
}
void Histogram::add(std::span<const double> values) noexcept {
  add_values(*this, values, HWY_DYNAMIC_DISPATCH(bin_indices_f64), counts_.data(), underflow_,
             overflow_, nan_count_);
}
void Histogram::add(std::span<const std::int32_t> values) noexcept {
  add_values(*this, values, HWY_DYNAMIC_DISPATCH(bin_indices_i32), counts_.data(), underflow_,
             overflow_, nan_count_);
}
void Histogram::add(std::span<const std::int64_t> values) noexcept {
  add_values(*this, values, HWY_DYNAMIC_DISPATCH(bin_indices_i64), counts_.data(), underflow_,
             overflow_, nan_count_);
}

// Bytes: count the 256 values (four sub-histograms again), then send each value's count to its
// bin, found by the same SIMD rule as every other type.
void Histogram::add(std::span<const std::uint8_t> values) noexcept {
  if (bins() == 0) {
    add_without_bins(values, low_, underflow_, overflow_, nan_count_);
    return;
  }
  std::array<std::uint64_t, 256> by_value{};
  std::array<std::array<std::uint32_t, 256>, kSubHistograms> sub{};
  for (std::size_t piece = 0; piece < values.size(); piece += kFoldEvery) {
    const std::size_t piece_end = std::min(values.size(), piece + kFoldEvery);
    const std::uint8_t* p = values.data();
    std::size_t i = piece;
    for (; i + kSubHistograms <= piece_end; i += kSubHistograms) {
      ++sub[0][p[i]];
      ++sub[1][p[i + 1]];
      ++sub[2][p[i + 2]];
      ++sub[3][p[i + 3]];
    }
    for (; i < piece_end; ++i) ++sub[0][p[i]];
    for (auto& s : sub) {
      for (std::size_t v = 0; v < 256; ++v) by_value[v] += s[v];
      s.fill(0);
    }
  }
  std::array<double, 256> value;
  for (std::size_t v = 0; v < 256; ++v) value[v] = static_cast<double>(v);
  std::array<std::uint32_t, 256> index;
  HWY_DYNAMIC_DISPATCH(bin_indices_f64)
  (value.data(), value.size(), low_, high_, over_at(*this), static_cast<double>(bins()),
   index.data());
  Counter counter(counts_.data(), bins(), underflow_, overflow_, nan_count_);
  for (std::size_t v = 0; v < 256; ++v) {
    if (by_value[v] != 0) counter.add_extended(index[v], by_value[v]);
  }
}

void Histogram::merge(const Histogram& other) {
  if (bins() == 0 && total() == 0) {  // an empty default-constructed histogram: the identity
    *this = other;
    return;
  }
  if (other.bins() == 0 && other.total() == 0) return;
  if (other.low_ != low_ || other.high_ != high_ || other.bins() != bins() ||
      other.high_edge_ != high_edge_) {
    throw std::invalid_argument(
        "Histogram::merge: bins differ ([" + std::to_string(low_) + ", " + std::to_string(high_) +
        ") x " + std::to_string(bins()) + " vs [" + std::to_string(other.low_) + ", " +
        std::to_string(other.high_) + ") x " + std::to_string(other.bins()) + ")");
  }
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  underflow_ += other.underflow_;
  overflow_ += other.overflow_;
  nan_count_ += other.nan_count_;
}

std::uint64_t Histogram::total() const noexcept {
  std::uint64_t t = underflow_ + overflow_ + nan_count_;
  for (std::uint64_t c : counts_) t += c;
  return t;
}

double Histogram::edge(std::size_t i) const noexcept {
  if (i >= bins()) return high_;
  return low_ + (high_ - low_) * static_cast<double>(i) / static_cast<double>(bins());
}

namespace {

void put_u64(std::vector<std::byte>& out, std::uint64_t v) {
  for (int shift = 0; shift < 64; shift += 8) out.push_back(std::byte((v >> shift) & 0xff));
}
void put_u32(std::vector<std::byte>& out, std::uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(std::byte((v >> shift) & 0xff));
}
std::uint64_t get_bytes(std::span<const std::byte> in, std::size_t at, int width) {
  std::uint64_t v = 0;
  for (int k = width - 1; k >= 0; --k) {
    v = (v << 8) | std::to_integer<std::uint64_t>(in[at + static_cast<std::size_t>(k)]);
  }
  return v;
}
std::uint64_t get_u64(std::span<const std::byte> in, std::size_t at) {
  return get_bytes(in, at, 8);
}
std::uint32_t get_u32(std::span<const std::byte> in, std::size_t at) {
  return static_cast<std::uint32_t>(get_bytes(in, at, 4));
}

}  // namespace

// Layout, little-endian: u32 magic "HIST", u32 version 2, f64 low, f64 high, u64 bins,
// u64 underflow, u64 overflow, u64 NaNs, u64 flags (bit 0: HighEdge::last_bin), then bins x u64
// counts.
std::vector<std::byte> Histogram::serialize() const {
  std::vector<std::byte> out;
  out.reserve(kHeaderBytes + 8 * counts_.size());
  put_u32(out, kMagic);
  put_u32(out, kVersion);
  put_u64(out, std::bit_cast<std::uint64_t>(low_));
  put_u64(out, std::bit_cast<std::uint64_t>(high_));
  put_u64(out, counts_.size());
  put_u64(out, underflow_);
  put_u64(out, overflow_);
  put_u64(out, nan_count_);
  put_u64(out, high_edge_ == HighEdge::last_bin ? 1 : 0);
  for (std::uint64_t c : counts_) put_u64(out, c);
  return out;
}

Histogram Histogram::deserialize(std::span<const std::byte> bytes) {
  if (bytes.size() < kHeaderBytes) {
    throw std::invalid_argument("Histogram::deserialize: " + std::to_string(bytes.size()) +
                                " bytes, shorter than the " + std::to_string(kHeaderBytes) +
                                "-byte header");
  }
  if (get_u32(bytes, 0) != kMagic) throw std::invalid_argument("Histogram::deserialize: bad magic");
  if (get_u32(bytes, 4) != kVersion) {
    throw std::invalid_argument("Histogram::deserialize: unknown version " +
                                std::to_string(get_u32(bytes, 4)));
  }
  const double low = std::bit_cast<double>(get_u64(bytes, 8));
  const double high = std::bit_cast<double>(get_u64(bytes, 16));
  const std::uint64_t bins = get_u64(bytes, 24);
  if (bins > kMaxBins || bytes.size() != kHeaderBytes + 8 * bins) {
    throw std::invalid_argument("Histogram::deserialize: " + std::to_string(bins) + " bins in " +
                                std::to_string(bytes.size()) + " bytes");
  }
  const std::uint64_t flags = get_u64(bytes, 56);
  if (flags > 1) {
    throw std::invalid_argument("Histogram::deserialize: unknown flags " + std::to_string(flags));
  }
  Histogram h;
  if (bins > 0) {
    // Validates the range as the constructor does.
    h = Histogram(low, high, bins, flags == 1 ? HighEdge::last_bin : HighEdge::overflow);
  } else if (low != h.low_ || high != h.high_) {
    throw std::invalid_argument("Histogram::deserialize: a histogram without bins has range [0, 1)");
  }
  h.underflow_ = get_u64(bytes, 32);
  h.overflow_ = get_u64(bytes, 40);
  h.nan_count_ = get_u64(bytes, 48);
  for (std::size_t i = 0; i < bins; ++i) h.counts_[i] = get_u64(bytes, kHeaderBytes + 8 * i);
  return h;
}

}  // namespace strata::kernels
#endif  // HWY_ONCE
