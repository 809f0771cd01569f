// SPDX-License-Identifier: Apache-2.0
// Streaming statistics: each block of a span gets two SIMD passes (sum, min, max; then deviations
// from the block mean), compiled once per Highway target and dispatched at run time. Blocks then
// merge pairwise by Chan et al.'s update, and partial results keep their sum as a double-double.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

#include "strata/kernels/stats.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "stats.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include "widen_to_f64-inl.h"

HWY_BEFORE_NAMESPACE();
namespace strata::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Sum (and, with kSkipNaN, the NaN count) of p[0, n); n is a multiple of Lanes(d). The fast
// variant lets a NaN poison the sum, which is how the caller learns to rerun with kSkipNaN: a
// NaN sum means a NaN was present or +inf met -inf, and the slow variant is right in both cases.
template <bool kSkipNaN, class D, typename T>
HWY_INLINE void first_pass(D d, const T* HWY_RESTRICT p, std::size_t n, double& sum,
                           std::uint64_t& nan_count) {
  const std::size_t lanes = hn::Lanes(d);
  auto sum0 = hn::Zero(d), sum1 = hn::Zero(d);
  std::size_t nans = 0;
  auto step = [&](const T* q, auto& acc) HWY_ATTR {
    const auto v = load_f64(d, q);
    if constexpr (kSkipNaN) {
      const auto is_nan = hn::IsNaN(v);
      nans += hn::CountTrue(d, is_nan);
      acc = hn::Add(acc, hn::IfThenZeroElse(is_nan, v));
    } else {
      acc = hn::Add(acc, v);
    }
  };
  std::size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    step(p + i, sum0);
    step(p + i + lanes, sum1);
  }
  for (; i < n; i += lanes) step(p + i, sum0);
  sum += hn::GetLane(hn::SumOfLanes(d, hn::Add(sum0, sum1)));
  nan_count += nans;
}

struct SecondPass {
  double sum_dev = 0.0;   // of x - mean
  double sum_dev2 = 0.0;  // of (x - mean)^2
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
};

// Deviations from `mean`, their squares, min and max over p[0, n), NaNs left out with kSkipNaN.
// Min and max live here, not in the first pass, because here the value is in a register
// already: one load per vector per pass. While this pass works from L1, it prefetches the
// values `ahead` elements on (the next block): measured on a Sapphire Rapids core, a 256 MiB
// f64 span goes from ~9 to ~10.5 GB/s and f32 from ~6.6 to ~9 GB/s, as the first pass of the
// next block finds its lines on the way. Prefetches never fault, so running past the span is
// harmless.
template <bool kSkipNaN, class D, typename T>
HWY_INLINE void second_pass(D d, const T* HWY_RESTRICT p, std::size_t n, std::size_t ahead,
                            double mean, SecondPass& r) {
  const std::size_t lanes = hn::Lanes(d);
  const std::size_t ahead_bytes = ahead * sizeof(T);  // an address, not a pointer past the span
  const auto m = hn::Set(d, mean);
  const auto pos_inf = hn::Set(d, std::numeric_limits<double>::infinity());
  const auto neg_inf = hn::Set(d, -std::numeric_limits<double>::infinity());
  auto dev0 = hn::Zero(d), dev1 = hn::Zero(d);
  auto sq0 = hn::Zero(d), sq1 = hn::Zero(d);
  auto min0 = pos_inf, min1 = pos_inf;
  auto max0 = neg_inf, max1 = neg_inf;
  auto step = [&](const T* q, auto& dev, auto& sq, auto& mn, auto& mx) HWY_ATTR {
    hwy::Prefetch(reinterpret_cast<const T*>(reinterpret_cast<std::uintptr_t>(q) + ahead_bytes));
    const auto v = load_f64(d, q);
    auto x = hn::Sub(v, m);
    if constexpr (kSkipNaN) {
      const auto is_nan = hn::IsNaN(v);
      x = hn::IfThenZeroElse(is_nan, x);
      mn = hn::Min(mn, hn::IfThenElse(is_nan, pos_inf, v));
      mx = hn::Max(mx, hn::IfThenElse(is_nan, neg_inf, v));
    } else {
      mn = hn::Min(mn, v);
      mx = hn::Max(mx, v);
    }
    dev = hn::Add(dev, x);
    sq = hn::MulAdd(x, x, sq);
  };
  std::size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    step(p + i, dev0, sq0, min0, max0);
    step(p + i + lanes, dev1, sq1, min1, max1);
  }
  for (; i < n; i += lanes) step(p + i, dev0, sq0, min0, max0);
  r.sum_dev += hn::GetLane(hn::SumOfLanes(d, hn::Add(dev0, dev1)));
  r.sum_dev2 += hn::GetLane(hn::SumOfLanes(d, hn::Add(sq0, sq1)));
  r.min = std::min(r.min, hn::GetLane(hn::MinOfLanes(d, hn::Min(min0, min1))));
  r.max = std::max(r.max, hn::GetLane(hn::MaxOfLanes(d, hn::Max(max0, max1))));
}

// Statistics of a block the fast passes cannot take: it holds an infinity, or its finite values
// overflow the sum or the squares in double. Scalar, in long double (x86's 80-bit format: 64-bit
// significand, and an exponent range no sum of doubles or their squares can leave), so every
// result that exists in double comes out finite and right, and only a true overflow gives inf.
// Rare by nature: ordinary blocks never come here.
template <typename T>
void exceptional_block_stats(const T* HWY_RESTRICT p, std::size_t n, Stats* HWY_RESTRICT out) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  Stats s;
  long double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(p[i]);
    if (std::isnan(x)) {
      ++s.nan_count;
      continue;
    }
    ++s.count;
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
    if (x == kInf) {
      ++s.pos_inf_count;
    } else if (x == -kInf) {
      ++s.neg_inf_count;
    } else {
      sum += x;
    }
  }
  if (s.count == 0) {
    *out = s;
    return;
  }
  if (s.pos_inf_count + s.neg_inf_count > 0) {
    s.sum = s.pos_inf_count == 0   ? -kInf
            : s.neg_inf_count == 0 ? kInf
                                   : std::numeric_limits<double>::quiet_NaN();
    s.mean = s.sum;
    s.m2 = std::numeric_limits<double>::quiet_NaN();
    *out = s;
    return;
  }
  const long double mean = sum / static_cast<long double>(s.count);
  long double m2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(p[i]);
    if (std::isnan(x)) continue;
    const long double d = x - mean;
    m2 += d * d;
  }
  s.sum = static_cast<double>(sum);  // +-inf if the sum itself leaves the double range
  s.sum_low = std::isfinite(s.sum) ? static_cast<double>(sum - s.sum) : 0.0;
  s.mean = static_cast<double>(mean);  // between min and max: always finite
  s.m2 = static_cast<double>(m2);      // +inf if it leaves the double range
  *out = s;
}

// Exact sum, min and max of the int64 values p[0, n); n is a multiple of Lanes(d). Each value
// splits into its high 32 bits (signed) and low 32 bits (unsigned), summed apart in 64-bit
// lanes: neither can overflow for fewer than 2^31 values, and a block has 2048.
template <class D>
HWY_INLINE void int64_pass(D d, const std::int64_t* HWY_RESTRICT p, std::size_t n,
                           std::int64_t& high_sum, std::int64_t& low_sum, std::int64_t& min,
                           std::int64_t& max) {
  const std::size_t lanes = hn::Lanes(d);
  const auto low_mask = hn::Set(d, std::int64_t{0xFFFFFFFF});
  auto high = hn::Zero(d), low = hn::Zero(d);
  auto mn = hn::Set(d, std::numeric_limits<std::int64_t>::max());
  auto mx = hn::Set(d, std::numeric_limits<std::int64_t>::min());
  for (std::size_t i = 0; i < n; i += lanes) {
    const auto v = hn::LoadU(d, p + i);
    high = hn::Add(high, hn::ShiftRight<32>(v));
    low = hn::Add(low, hn::And(v, low_mask));
    mn = hn::Min(mn, v);
    mx = hn::Max(mx, v);
  }
  if (n == 0) return;
  high_sum += hn::GetLane(hn::SumOfLanes(d, high));
  low_sum += hn::GetLane(hn::SumOfLanes(d, low));
  min = std::min(min, hn::GetLane(hn::MinOfLanes(d, mn)));
  max = std::max(max, hn::GetLane(hn::MaxOfLanes(d, mx)));
}

// The second pass for int64: deviations from an integer centre c (the block's truncated mean),
// taken before any rounding, so values near 2^62 that differ by 1 keep their variance, where
// converting each x to double first would round them equal. When the block's values span less
// than 2^63 (kSplit false: always, but for blocks holding both extremes of int64), x - c is
// exact in int64 and converts once. Otherwise x and c split into high (signed) and low 32-bit
// halves whose differences convert exactly, and d = (x_hi - c_hi) * 2^32 + (x_lo - c_lo) rounds
// once. Prefetches `ahead` elements on, as second_pass does.
template <bool kSplit, class D>
HWY_INLINE void int64_second_pass(D d, const std::int64_t* HWY_RESTRICT p, std::size_t n,
                                  std::size_t ahead, std::int64_t center, SecondPass& r) {
  const hn::Rebind<std::int64_t, D> di;
  const std::size_t lanes = hn::Lanes(d);
  const std::size_t ahead_bytes = ahead * sizeof(std::int64_t);
  const auto low_mask = hn::Set(di, std::int64_t{0xFFFFFFFF});
  const auto center_high = hn::Set(di, center >> 32);
  const auto center_low = hn::Set(di, center & std::int64_t{0xFFFFFFFF});
  const auto two32 = hn::Set(d, 4294967296.0);
  const auto center_v = hn::Set(di, center);
  auto dev = hn::Zero(d), sq = hn::Zero(d);
  for (std::size_t i = 0; i < n; i += lanes) {
    hwy::Prefetch(reinterpret_cast<const std::int64_t*>(reinterpret_cast<std::uintptr_t>(p + i) +
                                                        ahead_bytes));
    const auto v = hn::LoadU(di, p + i);
    hn::Vec<D> x;
    if constexpr (kSplit) {
      const auto high = hn::ConvertTo(d, hn::Sub(hn::ShiftRight<32>(v), center_high));
      const auto low = hn::ConvertTo(d, hn::Sub(hn::And(v, low_mask), center_low));
      x = hn::MulAdd(high, two32, low);
    } else {
      x = hn::ConvertTo(d, hn::Sub(v, center_v));
    }
    dev = hn::Add(dev, x);
    sq = hn::MulAdd(x, x, sq);
  }
  if (n == 0) return;
  r.sum_dev += hn::GetLane(hn::SumOfLanes(d, dev));
  r.sum_dev2 += hn::GetLane(hn::SumOfLanes(d, sq));
}

// Statistics of one block p[0, n), small enough (the caller's kBlock) to stay in L1 between the
// passes. Two passes make m2 immune to a large common offset: the squares are of deviations
// from the block mean, and the corrected form sum(d^2) - sum(d)^2 / n removes the rounding of
// that mean. For floating input the block sum is recovered as n*m + sum(d), kept as hi + lo,
// so its error is relative to the spread of the values, not to their offset.
template <typename T>
void block_stats(const T* HWY_RESTRICT p, std::size_t n, Stats* HWY_RESTRICT out) {
  const hn::ScalableTag<double> d;
  const hn::CappedTag<double, 1> d1;  // the same operations, one lane: the tail
  // Whole vectors from the block's first value, then single lanes: which lane and accumulator a
  // value meets depends on its position in the span only, never on the span's address, so the
  // same values give the same bits wherever they lie (another rank's heap, a copy, a mapping).
  // Loads are unaligned when the span is; aligning them with a head of single lanes made the sums'
  // order follow the address mod the vector size, and gained nothing measurable (docs/kernels.md).
  const std::size_t body = n - n % hn::Lanes(d);
  const T* const tail_p = p + body;
  const std::size_t tail = n - body;

  Stats s;
  double sum = 0.0;
  std::uint64_t nan_count = 0;
  bool skip_nan = false;
  if constexpr (std::is_same_v<T, std::int64_t>) {
    // int64 rounds in double beyond 2^53: its first pass sums exactly in integers instead, and
    // finds the exact min and max; the mean for the second pass is that sum, rounded.
    const hn::ScalableTag<std::int64_t> di;
    const hn::CappedTag<std::int64_t, 1> di1;
    std::int64_t high_sum = 0, low_sum = 0;
    int64_pass(di, p, body, high_sum, low_sum, s.integer_min, s.integer_max);
    int64_pass(di1, tail_p, tail, high_sum, low_sum, s.integer_min, s.integer_max);
    s.integer_sum = static_cast<Int128>(high_sum) * (Int128{1} << 32) + low_sum;
    sum = static_cast<double>(s.integer_sum);
  } else {
    first_pass<false>(d, p, body, sum, nan_count);
    first_pass<false>(d1, tail_p, tail, sum, nan_count);
    skip_nan = std::isnan(sum);
    if (skip_nan) {
      sum = 0.0;
      first_pass<true>(d, p, body, sum, nan_count);
      first_pass<true>(d1, tail_p, tail, sum, nan_count);
    }
    // Still not finite without the NaNs: an infinity, or finite values past the double range.
    if (!std::isfinite(sum)) {
      exceptional_block_stats(p, n, out);
      return;
    }
  }

  s.nan_count = nan_count;
  s.count = n - nan_count;
  if (s.count == 0) {
    *out = s;
    return;
  }
  const double count = static_cast<double>(s.count);
  const double m = sum / count;  // finite: the sum is
  SecondPass r;
  if constexpr (std::is_same_v<T, std::int64_t>) {
    const auto center = static_cast<std::int64_t>(s.integer_sum / static_cast<Int128>(s.count));
    const std::uint64_t span =
        static_cast<std::uint64_t>(s.integer_max) - static_cast<std::uint64_t>(s.integer_min);
    if (span < (std::uint64_t{1} << 63)) {
      int64_second_pass<false>(d, p, body, n, center, r);
      int64_second_pass<false>(d1, tail_p, tail, n, center, r);
    } else {
      int64_second_pass<true>(d, p, body, n, center, r);
      int64_second_pass<true>(d1, tail_p, tail, n, center, r);
    }
    r.min = static_cast<double>(s.integer_min);
    r.max = static_cast<double>(s.integer_max);
  } else if (skip_nan) {
    second_pass<true>(d, p, body, n, m, r);
    second_pass<true>(d1, tail_p, tail, n, m, r);
  } else {
    second_pass<false>(d, p, body, n, m, r);
    second_pass<false>(d1, tail_p, tail, n, m, r);
  }
  // Squares past the double range (values beyond ~1e154 from the mean): inf or NaN here, and
  // std::max(0.0, NaN) would say 0. Integers cannot get here (|x - m| < 2^65).
  if (!std::isfinite(r.sum_dev2) || !std::isfinite(r.sum_dev)) {
    exceptional_block_stats(p, n, out);
    return;
  }
  s.sum = sum;
  s.min = r.min;
  s.max = r.max;
  s.m2 = std::max(0.0, r.sum_dev2 - r.sum_dev * r.sum_dev / count);
  if constexpr (std::is_same_v<T, std::int32_t>) {
    // Block sums of int32 in double are exact (|sum| < 2^11 * 2^31), and so are min and max.
    s.mean = sum / count;  // the sum is exact, so this is the correctly rounded mean
    s.integer_count = s.count;
    s.integer_sum = static_cast<std::int64_t>(sum);
    s.integer_min = static_cast<std::int64_t>(r.min);
    s.integer_max = static_cast<std::int64_t>(r.max);
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    s.integer_count = s.count;  // integer_sum, integer_min and integer_max: the first pass
    s.sum = sum;
    s.sum_low = static_cast<double>(s.integer_sum - static_cast<Int128>(s.sum));
    s.min = static_cast<double>(s.integer_min);
    s.max = static_cast<double>(s.integer_max);
    s.mean = static_cast<double>(static_cast<long double>(s.integer_sum) / s.count);
  } else {
    s.mean = m + r.sum_dev / count;
    // n*m exactly as product + error (fma), then the low part: (product - sum) is exact by
    // Sterbenz's lemma as both are within a few ulps of each other. Integer block sums below
    // 2^53 are exact already, and a correction would only add noise.
    const double product = count * m;
    const double product_error = std::fma(count, m, -product);
    const double lo = (product - sum) + (product_error + r.sum_dev);
    s.sum = sum + lo;
    s.sum_low = lo - (s.sum - sum);
  }
  *out = s;
}

void block_stats_f32(const float* p, std::size_t n, Stats* out) { block_stats(p, n, out); }
void block_stats_f64(const double* p, std::size_t n, Stats* out) { block_stats(p, n, out); }
void block_stats_i32(const std::int32_t* p, std::size_t n, Stats* out) { block_stats(p, n, out); }
void block_stats_i64(const std::int64_t* p, std::size_t n, Stats* out) { block_stats(p, n, out); }

}  // namespace HWY_NAMESPACE
}  // namespace strata::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace strata::kernels {
namespace {

HWY_EXPORT(block_stats_f32);
HWY_EXPORT(block_stats_f64);
HWY_EXPORT(block_stats_i32);
HWY_EXPORT(block_stats_i64);

// Elements per block: 2048 f64 are 16 KiB, so the second pass rereads the block from L1 (32 KiB
// or more on every x86 core since 2011) and a span costs one trip to memory, not two.
constexpr std::size_t kBlock = 2048;

// Pairwise (binary-counter) merging of block results: each block merges O(log n) times, with
// partners of similar size, so rounding grows with log(blocks) instead of with their number.
class PairwiseMerge {
 public:
  void push(Stats s) noexcept {
    std::size_t level = 0;
    for (; (occupied_ >> level) & 1; ++level) {
      level_[level].merge(s);  // the older partial first keeps the data in order
      s = level_[level];
      occupied_ &= ~(std::uint64_t{1} << level);
    }
    level_[level] = s;
    occupied_ |= std::uint64_t{1} << level;
  }

  Stats total() const noexcept {
    Stats t;
    for (std::size_t level = level_.size(); level-- > 0;) {
      if ((occupied_ >> level) & 1) t.merge(level_[level]);
    }
    return t;
  }

 private:
  std::array<Stats, 64> level_{};  // 2^64 blocks: more than any span can hold
  std::uint64_t occupied_ = 0;
};

// (sum + sum_low - mean * n) / n: the part of the true mean that `mean` rounds away.
double mean_residual(const Stats& s, double n) noexcept {
  const double r = (std::fma(-s.mean, n, s.sum) + s.sum_low) / n;
  return std::isfinite(r) ? r : 0.0;  // a sum overflowed: the mean alone is all we have
}

template <typename T>
void add_span(Stats& stats, std::span<const T> values,
              void (*block)(const T*, std::size_t, Stats*)) noexcept {
  if (values.size() <= kBlock) {  // no tree to build (it costs ~100 ns to set up)
    Stats b;
    block(values.data(), values.size(), &b);
    stats.merge(b);
    return;
  }
  PairwiseMerge tree;
  for (std::size_t i = 0; i < values.size(); i += kBlock) {
    Stats b;
    block(values.data() + i, std::min(kBlock, values.size() - i), &b);
    tree.push(b);
  }
  stats.merge(tree.total());
}

}  // namespace

void Stats::add(std::span<const float> values) noexcept {
  add_span(*this, values, HWY_DYNAMIC_DISPATCH(block_stats_f32));
}
void Stats::add(std::span<const double> values) noexcept {
  add_span(*this, values, HWY_DYNAMIC_DISPATCH(block_stats_f64));
}
void Stats::add(std::span<const std::int32_t> values) noexcept {
  add_span(*this, values, HWY_DYNAMIC_DISPATCH(block_stats_i32));
}
void Stats::add(std::span<const std::int64_t> values) noexcept {
  add_span(*this, values, HWY_DYNAMIC_DISPATCH(block_stats_i64));
}

void Stats::merge(const Stats& other) noexcept {
  nan_count += other.nan_count;
  if (other.count == 0) return;
  if (count == 0) {
    const std::uint64_t nans = nan_count;
    *this = other;
    nan_count = nans;
    return;
  }
  const double na = static_cast<double>(count);
  const double nb = static_cast<double>(other.count);
  const double n = na + nb;
  const double residual_a = mean_residual(*this, na);  // before the sums change
  count += other.count;
  pos_inf_count += other.pos_inf_count;
  neg_inf_count += other.neg_inf_count;
  min = std::min(min, other.min);
  max = std::max(max, other.max);
  if (other.integer_count != 0) {  // floating data leaves the integer fields alone
    integer_count += other.integer_count;
    integer_sum += other.integer_sum;  // cannot overflow: see Int128
    integer_min = std::min(integer_min, other.integer_min);
    integer_max = std::max(integer_max, other.integer_max);
  }

  // The sum as a double-double: TwoSum of the high parts, low parts added, renormalised so
  // `sum` alone is the best double and merging many partials loses nothing.
  const double hi = sum + other.sum;
  if (!std::isfinite(hi)) {
    sum = hi;
    sum_low = 0.0;
  } else {
    const double other_part = hi - sum;
    const double error = (sum - (hi - other_part)) + (other.sum - other_part);
    const double lo = sum_low + other.sum_low + error;
    sum = hi + lo;
    sum_low = lo - (sum - hi);
  }

  if (!std::isfinite(mean) || !std::isfinite(other.mean)) {
    // An infinity on either side: Chan's delta would be inf - inf. IEEE's answer is the sum's.
    mean = sum / n;
    m2 = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  // Chan, Golub and LeVeque (1979). The difference of the means is taken with what each mean
  // rounded away (recovered from its double-double sum): with values at 1e6 +- 1, a mean's
  // rounding (1e-10) is 1e-8 of a typical delta between blocks, and that error would otherwise
  // grow with offset / spread in m2. The high parts subtract exactly (Sterbenz).
  const double delta = (other.mean - mean) + (mean_residual(other, nb) - residual_a);
  if (!std::isfinite(delta)) {
    // Means of opposite signs near the double range: their difference overflows, and so does
    // m2 (it is at least delta^2 * na * nb / n, and na * nb / n >= 1/2).
    mean = mean * (na / n) + other.mean * (nb / n);
    m2 = std::numeric_limits<double>::infinity();
    return;
  }
  mean += residual_a + delta * (nb / n);
  m2 += other.m2 + delta * (delta * (na * (nb / n)));
}

std::optional<double> Stats::variance() const noexcept {
  if (count == 0) return std::nullopt;
  return m2 / static_cast<double>(count);
}

std::optional<double> Stats::sample_variance() const noexcept {
  if (count < 2) return std::nullopt;
  return m2 / static_cast<double>(count - 1);
}

std::optional<double> Stats::stddev() const noexcept {
  if (count == 0) return std::nullopt;
  return std::sqrt(m2 / static_cast<double>(count));
}

StatsSummary Stats::summary() const noexcept {
  StatsSummary r;
  r.count = count;
  r.nan_count = nan_count;
  r.pos_inf_count = pos_inf_count;
  r.neg_inf_count = neg_inf_count;
  const bool integer = count > 0 && integer_count == count;
  const bool infinite = pos_inf_count + neg_inf_count > 0;
  if (infinite) {
    // From the counts, not the running sum: a finite overflow to +inf must not meet -inf.
    r.sum = pos_inf_count == 0   ? -std::numeric_limits<double>::infinity()
            : neg_inf_count == 0 ? std::numeric_limits<double>::infinity()
                                 : std::numeric_limits<double>::quiet_NaN();
  } else if (integer) {
    r.sum = static_cast<double>(integer_sum);
  } else if (!std::isfinite(sum)) {
    // Partial sums overflowed; the mean did not (Chan's update never forms the sum), so the
    // product in long double says whether the whole sum fits a double, and what it is.
    r.sum = static_cast<double>(static_cast<long double>(mean) * static_cast<long double>(count));
  } else {
    r.sum = sum;
  }
  if (count == 0) return r;
  if (integer) {
    r.integer_sum = integer_sum;
    r.integer_min = integer_min;
    r.integer_max = integer_max;
    r.min = static_cast<double>(integer_min);
    r.max = static_cast<double>(integer_max);
    r.mean = static_cast<double>(static_cast<long double>(integer_sum) /
                                 static_cast<long double>(count));
  } else {
    r.min = min;
    r.max = max;
    r.mean = infinite ? r.sum : mean;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.variance = infinite ? nan : *variance();
  r.stddev = infinite ? nan : *stddev();
  if (count > 1) r.sample_variance = infinite ? nan : *sample_variance();
  return r;
}

std::string to_decimal(Int128 v) {
  // Digits of |v| as unsigned (so the most negative value has a magnitude), last digit first.
  __extension__ typedef unsigned __int128 UInt128;
  UInt128 magnitude = v < 0 ? UInt128{0} - static_cast<UInt128>(v) : static_cast<UInt128>(v);
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  } while (magnitude != 0);
  if (v < 0) digits.push_back('-');
  return {digits.rbegin(), digits.rend()};
}

}  // namespace strata::kernels
#endif  // HWY_ONCE
