// SPDX-License-Identifier: Apache-2.0
// Tests of strata::kernels::Stats against long-double references written here: every compiled
// SIMD target (Highway's per-target GTest fixture re-dispatches the public API), odd sizes and
// misaligned starts, NaN and infinity policy, merging, and 10^8 values with a large offset; and
// the edges against hand-derived values: no values, only NaNs, overflow, exact int64.
#include "strata/kernels/stats.hpp"

#include <gtest/gtest.h>
#include <hwy/targets.h>
#include <hwy/tests/hwy_gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <type_traits>
#include <vector>

#include "strata/kernels/simd_targets.hpp"

namespace {

using strata::kernels::Stats;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Sizes around the vector widths (1..16 lanes) and the kernel's 2048-value blocks.
constexpr std::size_t kSizes[] = {0, 1, 2, 7, 8, 15, 63, 1000 + 3, 2047, 2048, 2049, 3 * 2048 + 5};

struct Reference {
  std::uint64_t count = 0;
  std::uint64_t nan_count = 0;
  long double sum = 0;
  long double sum_abs = 0;  // the scale a sum's rounding is measured against
  double min = kInf;
  double max = -kInf;
  long double mean = 0;
  long double m2 = 0;
};

// Kahan-compensated long-double sum: about 2^-64 relative per step, and compensated, so the
// reference is orders of magnitude closer to the truth than the 1e-12 asked of the kernel.
class LongDoubleSum {
 public:
  void add(long double x) {
    const long double y = x - carry_;
    const long double t = total_ + y;
    carry_ = (t - total_) - y;
    total_ = t;
  }
  long double value() const { return total_; }

 private:
  long double total_ = 0;
  long double carry_ = 0;
};

// Two-pass statistics in long double, NaNs skipped.
template <typename T>
Reference reference(std::span<const T> values) {
  Reference r;
  LongDoubleSum sum, sum_abs;
  for (T v : values) {
    const double x = static_cast<double>(v);
    if (std::isnan(x)) {
      ++r.nan_count;
      continue;
    }
    ++r.count;
    sum.add(x);
    sum_abs.add(std::fabs(x));
    r.min = std::min(r.min, x);
    r.max = std::max(r.max, x);
  }
  r.sum = sum.value();
  r.sum_abs = sum_abs.value();
  if (r.count == 0) return r;
  r.mean = r.sum / static_cast<long double>(r.count);
  LongDoubleSum m2;
  for (T v : values) {
    const double x = static_cast<double>(v);
    if (!std::isnan(x)) m2.add((x - r.mean) * (x - r.mean));
  }
  r.m2 = m2.value();
  return r;
}

double relative_error(double got, long double want) {
  if (want == 0) return std::fabs(got);
  return static_cast<double>(std::fabs((static_cast<long double>(got) - want) / want));
}

// Error of `got` relative to `scale`: a sum (or mean) of values of both signs can cancel to
// nearly nothing, and then no algorithm is accurate relative to the result, only to sum |x|.
double error_against_scale(double got, long double want, long double scale) {
  if (scale == 0) return std::fabs(got);
  return static_cast<double>(std::fabs(static_cast<long double>(got) - want) / scale);
}

// Checks every field: count, NaN count, min and max exactly; sum and mean to `tolerance`
// relative to sum |x| (the standard bound); m2, a sum of squares, relative to itself.
void expect_matches(const Stats& s, const Reference& r, double tolerance) {
  EXPECT_EQ(s.count, r.count);
  EXPECT_EQ(s.nan_count, r.nan_count);
  if (r.count == 0) {
    EXPECT_EQ(s.sum, 0.0);
    EXPECT_EQ(s.m2, 0.0);
    return;
  }
  EXPECT_EQ(s.min, r.min);
  EXPECT_EQ(s.max, r.max);
  const long double n = static_cast<long double>(r.count);
  EXPECT_LE(error_against_scale(s.sum, r.sum, r.sum_abs), tolerance) << s.sum;
  EXPECT_LE(error_against_scale(s.mean, r.mean, r.sum_abs / n), tolerance) << s.mean;
  EXPECT_LE(relative_error(s.m2, r.m2), tolerance) << s.m2;
}

template <typename T>
std::vector<T> random_values(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> v(n);
  if constexpr (std::is_floating_point_v<T>) {
    std::normal_distribution<double> noise(0.0, 3.0);
    for (auto& x : v) x = static_cast<T>(1000.0 + noise(rng));  // offset: m2 must not see it
  } else if constexpr (sizeof(T) == 4) {
    std::uniform_int_distribution<T> any(std::numeric_limits<T>::min(),
                                         std::numeric_limits<T>::max());
    for (auto& x : v) x = any(rng);
  } else {
    // Within +-2^40: converted to double exactly, and sums of up to 2^12 of them stay exact.
    std::uniform_int_distribution<T> wide(-(T{1} << 40), T{1} << 40);
    for (auto& x : v) x = wide(rng);
  }
  return v;
}

// Highway's per-target fixture: SetUp restricts the supported targets to the parameter, which
// resets the dispatch table, so the public API below runs that target's code.
class StatsTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(StatsTest);

// Proves the fixture really moves the dispatch: the kernels run the target under test.
TEST_P(StatsTest, DispatchRunsTheTargetUnderTest) {
  EXPECT_EQ(strata::kernels::simd_targets().dispatched, hwy::TargetName(GetParam()));
}

template <typename T>
void check_against_reference(double tolerance) {
  for (std::size_t n : kSizes) {
    const auto data = random_values<T>(n + 3, n);
    for (std::size_t offset = 0; offset <= 3; ++offset) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " offset=" << offset);
      const std::span<const T> values(data.data() + offset, n);
      Stats s;
      s.add(values);
      expect_matches(s, reference(values), tolerance);
    }
  }
}

// Proves count, sum, min, max, mean and m2 match the long-double reference for every type, at
// sizes around vector and block widths and at starts misaligned by 1..3 elements.
// The bound, 1e-13, is the one-lane SCALAR target's: each accumulator there adds 1024 terms of
// a block in sequence; vector targets land near 1e-15.
TEST_P(StatsTest, MatchesLongDoubleReferenceOnOddSizesAndOffsets) {
  check_against_reference<double>(1e-13);
  check_against_reference<float>(1e-13);
  check_against_reference<std::int32_t>(1e-13);
  check_against_reference<std::int64_t>(1e-13);
}

// Proves integer sums are exact (no compensation noise) while they stay below 2^53.
TEST_P(StatsTest, IntegerSumsAreExact) {
  const auto i32 = random_values<std::int32_t>(3 * 2048 + 5, 7);
  const auto i64 = random_values<std::int64_t>(3 * 2048 + 5, 8);
  Stats a, b;
  a.add(std::span<const std::int32_t>(i32));
  b.add(std::span<const std::int64_t>(i64));
  std::int64_t want_a = 0, want_b = 0;
  for (auto x : i32) want_a += x;
  for (auto x : i64) want_b += x;
  EXPECT_EQ(a.sum, static_cast<double>(want_a));
  EXPECT_EQ(a.sum_low, 0.0);
  EXPECT_EQ(b.sum, static_cast<double>(want_b));
}

// Proves NaNs are counted and skipped wherever they sit: in the vector body, in the remainder
// lanes, filling a whole block, and alone.
TEST_P(StatsTest, NaNsAreCountedAndSkipped) {
  for (std::size_t n : kSizes) {
    auto data = random_values<double>(n, 100 + n);
    std::mt19937_64 rng(n);
    for (auto& x : data) {
      if (rng() % 5 == 0) x = kNaN;
    }
    if (n > 0) data.back() = kNaN;  // the remainder path
    SCOPED_TRACE(testing::Message() << "n=" << n);
    Stats s;
    s.add(std::span<const double>(data));
    expect_matches(s, reference(std::span<const double>(data)), 1e-14);

    std::vector<float> f(data.begin(), data.end());
    Stats sf;
    sf.add(std::span<const float>(f));
    expect_matches(sf, reference(std::span<const float>(f)), 1e-14);
  }
  std::vector<double> only_nans(2048 + 3, kNaN);
  Stats s;
  s.add(std::span<const double>(only_nans));
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.nan_count, only_nans.size());
  EXPECT_EQ(s.sum, 0.0);
  EXPECT_EQ(s.min, kInf);
  EXPECT_EQ(s.max, -kInf);
}

// Proves infinities are values: they set min/max and the sum; mean is +-inf (NaN with both
// signs) and m2 is NaN — also when the infinity arrives through merge.
TEST_P(StatsTest, InfinitiesEnterMinMaxAndSum) {
  for (std::size_t n : {std::size_t{3}, std::size_t{1000 + 3}, std::size_t{5000}}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    auto data = random_values<double>(n, n);
    data[n / 2] = kInf;
    Stats s;
    s.add(std::span<const double>(data));
    EXPECT_EQ(s.count, n);
    EXPECT_EQ(s.sum, kInf);
    EXPECT_EQ(s.max, kInf);
    EXPECT_EQ(s.mean, kInf);
    EXPECT_TRUE(std::isnan(s.m2));

    data[n - 1] = -kInf;
    data[0] = kNaN;
    Stats both;
    both.add(std::span<const double>(data));
    EXPECT_EQ(both.count, n - 1);
    EXPECT_EQ(both.nan_count, 1u);
    EXPECT_EQ(both.min, -kInf);
    EXPECT_EQ(both.max, kInf);
    EXPECT_TRUE(std::isnan(both.sum));
    EXPECT_TRUE(std::isnan(both.mean));
    EXPECT_TRUE(std::isnan(both.m2));
  }
  Stats finite;
  const double values[] = {1.0, 2.0, 3.0};
  finite.add(std::span<const double>(values));
  Stats inf;
  const float infinite[] = {std::numeric_limits<float>::infinity()};
  inf.add(std::span<const float>(infinite));
  finite.merge(inf);
  EXPECT_EQ(finite.count, 4u);
  EXPECT_EQ(finite.sum, kInf);
  EXPECT_EQ(finite.mean, kInf);
  EXPECT_TRUE(std::isnan(finite.m2));
}

// Proves chunking does not matter: adding a span in uneven chunks, or merging separately built
// partials, gives the counts, min and max exactly and the moments to 1e-14.
TEST_P(StatsTest, ChunkedAddsAndMergesMatchOneSpan) {
  const auto data = random_values<double>(50'000 + 3, 11);
  const std::span<const double> all(data);
  const auto want = reference(all);
  Stats running, merged;
  std::mt19937_64 rng(3);
  for (std::size_t i = 0; i < data.size();) {
    const std::size_t len = std::min<std::size_t>(rng() % 3000, data.size() - i);
    running.add(all.subspan(i, len));
    Stats part;
    part.add(all.subspan(i, len));
    merged.merge(part);
    i += len;
  }
  expect_matches(running, want, 1e-14);
  expect_matches(merged, want, 1e-14);
}

// The same values copied to a start `shift` elements past a 64-byte boundary.
template <typename T>
std::span<const T> copy_at(std::vector<T>& storage, const std::vector<T>& values,
                           std::size_t shift) {
  storage.assign(values.size() + 64 / sizeof(T) + 16, T{});
  const auto misalignment = reinterpret_cast<std::uintptr_t>(storage.data()) % 64 / sizeof(T);
  T* start = storage.data() + (64 / sizeof(T) - misalignment) % (64 / sizeof(T)) + shift;
  std::copy(values.begin(), values.end(), start);
  return {start, values.size()};
}

// Values over 16 decades with random signs (integers: 9 or 18): their sums and squared
// deviations round differently in almost any other order of operations.
template <typename T>
std::vector<T> order_sensitive_values(std::size_t n) {
  std::mt19937_64 rng(n);
  std::uniform_real_distribution<double> exponent(-8.0, 8.0);
  std::vector<T> v(n);
  for (auto& x : v) {
    const double sign = (rng() & 1) ? 1.0 : -1.0;
    if constexpr (std::is_floating_point_v<T>) {
      x = static_cast<T>(sign * std::pow(10.0, exponent(rng)));
    } else {
      x = static_cast<T>(sign *
                         std::pow(10.0, (exponent(rng) + 8.0) * (sizeof(T) == 4 ? 9 : 18) / 16.0));
    }
  }
  return v;
}

template <typename T>
void expect_same_bits_at_every_address() {
  for (std::size_t n : {std::size_t{2048}, std::size_t{3 * 2048 + 5}}) {
    const auto values = order_sensitive_values<T>(n);
    std::vector<T> storage;
    Stats first;
    first.add(copy_at(storage, values, 0));
    for (std::size_t shift = 1; shift < 64 / sizeof(T); ++shift) {
      SCOPED_TRACE(testing::Message()
                   << "n=" << n << " shift=" << shift << " of " << sizeof(T) << "-byte values");
      Stats s;
      s.add(copy_at(storage, values, shift));
      EXPECT_EQ(std::memcmp(&s, &first, sizeof s), 0)
          << std::hexfloat << "sum " << s.sum << " vs " << first.sum << ", m2 " << s.m2 << " vs "
          << first.m2;
    }
  }
}

// Proves a Stats' bits depend on the values and their order only, not on where they lie: the
// same span copied to every offset within a cache line gives the same 128 bytes, for every type.
// Ranks (or repeated copies) whose heap places the data differently must agree bit for bit;
// with a vector-aligned head of single lanes the sums' order moved with the address mod 32.
TEST_P(StatsTest, SameBitsWhereverTheValuesLie) {
  expect_same_bits_at_every_address<double>();
  expect_same_bits_at_every_address<float>();
  expect_same_bits_at_every_address<std::int32_t>();
  expect_same_bits_at_every_address<std::int64_t>();
}

// Proves merging with an empty Stats (either side) is the identity apart from NaN counts.
TEST(Stats, MergeWithEmptyIsIdentity) {
  const double values[] = {4.0, 7.0, 13.0, 16.0};
  Stats s;
  s.add(std::span<const double>(values));
  Stats empty;
  empty.nan_count = 2;
  Stats left = empty;
  left.merge(s);
  s.merge(Stats{});
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.sum, 40.0);
  EXPECT_EQ(s.mean, 10.0);
  EXPECT_EQ(s.m2, 90.0);  // 36 + 9 + 9 + 36
  EXPECT_EQ(s.variance(), 22.5);
  EXPECT_EQ(s.sample_variance(), 30.0);
  EXPECT_EQ(s.stddev(), std::sqrt(22.5));
  EXPECT_EQ(left.count, 4u);
  EXPECT_EQ(left.nan_count, 2u);
  EXPECT_EQ(left.m2, 90.0);
  EXPECT_FALSE(Stats{}.stddev().has_value());
}

// Edge data of issue 21, each with results derived by hand (the comment says how), added to a
// Stats in `parts` pieces merged in order: the properties must survive any split, as they must
// across threads and ranks.
using strata::kernels::Int128;
using strata::kernels::StatsSummary;

template <typename T>
StatsSummary summary_in_parts(const std::vector<T>& values, std::size_t parts) {
  Stats total;
  for (std::size_t p = 0; p < parts; ++p) {
    const std::size_t first = values.size() * p / parts;
    const std::size_t last = values.size() * (p + 1) / parts;
    Stats piece;
    piece.add(std::span<const T>(values.data() + first, last - first));
    total.merge(piece);
  }
  return total.summary();
}

void expect_no_value(const StatsSummary& r) {
  EXPECT_EQ(r.count, 0u);
  EXPECT_EQ(r.sum, 0.0);  // the empty sum is 0: a value
  EXPECT_FALSE(r.min.has_value());
  EXPECT_FALSE(r.max.has_value());
  EXPECT_FALSE(r.mean.has_value());
  EXPECT_FALSE(r.variance.has_value());
  EXPECT_FALSE(r.sample_variance.has_value());
  EXPECT_FALSE(r.stddev.has_value());
  EXPECT_FALSE(r.integer_sum.has_value());
}

// Proves no values and only NaNs (also across a block boundary) report no mean, variance, min or
// max (the identities +inf/-inf/0 of the reduction never leak out as results).
TEST_P(StatsTest, EmptyAndAllNaNHaveNoValue) {
  for (std::size_t parts : {1, 2, 4}) {
    SCOPED_TRACE(testing::Message() << "parts=" << parts);
    expect_no_value(summary_in_parts(std::vector<double>{}, parts));
    expect_no_value(summary_in_parts(std::vector<std::int64_t>{}, parts));
    for (std::size_t n : {std::size_t{10}, std::size_t{2048 + 3}}) {
      const StatsSummary r = summary_in_parts(std::vector<double>(n, kNaN), parts);
      expect_no_value(r);
      EXPECT_EQ(r.nan_count, n);
      const StatsSummary f = summary_in_parts(std::vector<float>(n, NAN), parts);
      expect_no_value(f);
      EXPECT_EQ(f.nan_count, n);
    }
  }
  const double one[] = {5.0};
  Stats s;
  s.add(std::span<const double>(one));
  EXPECT_EQ(s.variance(), 0.0);
  EXPECT_FALSE(s.sample_variance().has_value());  // n - 1 = 0: none
}

// Proves a second moment past the double range is inf, never 0 or a finite wrong value, while the
// finite sum and mean stay exact: [1e308, 1e308, -1e308] has sum 1e308 (exactly that double),
// mean 1e308 / 3 (to 4 ulps) and m2 = (24/9) 1e616. Also with the
// three values in different 2048-value blocks among zeros, where block sums overflow on merge.
TEST_P(StatsTest, OverflowingMomentsAreInfinite) {
  const std::vector<double> three = {1e308, 1e308, -1e308};
  for (std::size_t parts : {1, 2, 3}) {
    SCOPED_TRACE(testing::Message() << "parts=" << parts);
    const StatsSummary r = summary_in_parts(three, parts);
    EXPECT_EQ(r.count, 3u);
    EXPECT_EQ(r.sum, 1e308);
    EXPECT_DOUBLE_EQ(*r.mean, 1e308 / 3.0);  // within 4 ulps: Chan's merged mean rounds twice
    EXPECT_EQ(r.variance, kInf);
    EXPECT_EQ(r.stddev, kInf);
    EXPECT_EQ(r.min, -1e308);
    EXPECT_EQ(r.max, 1e308);
  }
  std::vector<double> spread(3 * 2048, 0.0);
  spread[10] = 1e308;
  spread[2048 + 10] = 1e308;
  spread[2 * 2048 + 10] = -1e308;
  for (std::size_t parts : {1, 2, 4}) {
    SCOPED_TRACE(testing::Message() << "spread parts=" << parts);
    const StatsSummary r = summary_in_parts(spread, parts);
    EXPECT_NEAR(r.sum, 1e308, 1e308 * 1e-15);
    EXPECT_NEAR(*r.mean, 1e308 / 6144.0, 1e308 / 6144.0 * 1e-15);
    EXPECT_EQ(r.variance, kInf);
  }
  // A sum that truly leaves the range: +inf, with the mean (1e308) still exact.
  const std::vector<double> two = {1e308, 1e308};
  for (std::size_t parts : {1, 2}) {
    const StatsSummary r = summary_in_parts(two, parts);
    EXPECT_EQ(r.sum, kInf);
    EXPECT_EQ(r.mean, 1e308);
    EXPECT_EQ(r.variance, 0.0);
  }
  // Squares overflow with a sum of 0: [1e200, -1e200] has m2 = 2e400.
  const StatsSummary sq = summary_in_parts(std::vector<double>{1e200, -1e200}, 1);
  EXPECT_EQ(sq.sum, 0.0);
  EXPECT_EQ(sq.mean, 0.0);
  EXPECT_EQ(sq.variance, kInf);
}

// Proves infinities are counted by sign and reported as values: max of [1, +inf, 2] is +inf, the
// sum and mean +inf, the variance NaN (inf - inf); with both signs the sum and mean are NaN.
TEST_P(StatsTest, InfinitiesAreCountedAndReported) {
  for (std::size_t parts : {1, 2, 3}) {
    SCOPED_TRACE(testing::Message() << "parts=" << parts);
    const StatsSummary r = summary_in_parts(std::vector<double>{1.0, kInf, 2.0}, parts);
    EXPECT_EQ(r.count, 3u);
    EXPECT_EQ(r.pos_inf_count, 1u);
    EXPECT_EQ(r.neg_inf_count, 0u);
    EXPECT_EQ(r.min, 1.0);
    EXPECT_EQ(r.max, kInf);
    EXPECT_EQ(r.sum, kInf);
    EXPECT_EQ(r.mean, kInf);
    EXPECT_TRUE(std::isnan(*r.variance));
    const StatsSummary b =
        summary_in_parts(std::vector<float>{-INFINITY, 1.0f, NAN, INFINITY}, parts);
    EXPECT_EQ(b.count, 3u);
    EXPECT_EQ(b.nan_count, 1u);
    EXPECT_EQ(b.pos_inf_count, 1u);
    EXPECT_EQ(b.neg_inf_count, 1u);
    EXPECT_EQ(b.min, -kInf);
    EXPECT_EQ(b.max, kInf);
    EXPECT_TRUE(std::isnan(b.sum));
    EXPECT_TRUE(std::isnan(*b.mean));
  }
  // A finite sum that overflowed to +inf must not turn NaN when a -inf arrives: the sum is -inf.
  std::vector<double> v(3 * 2048, 1e308);
  v.back() = -kInf;
  EXPECT_EQ(summary_in_parts(v, 3).sum, -kInf);
}

// Proves int64 min, max and sum are exact integers beyond 2^53 — [2^62 + 1, 2^62 + 3] has
// distinct min and max, the sum 2^63 + 4 and the variance 1 — and that sums past int64 (the extremes) are exact
// in 128 bits: {min, max, min} sums to -2^63 - 1.
TEST_P(StatsTest, Int64ResultsAreExact) {
  constexpr std::int64_t two62 = std::int64_t{1} << 62;
  constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  for (std::size_t parts : {1, 2}) {
    SCOPED_TRACE(testing::Message() << "parts=" << parts);
    const StatsSummary r = summary_in_parts(std::vector<std::int64_t>{two62 + 1, two62 + 3}, parts);
    EXPECT_EQ(r.integer_min, two62 + 1);
    EXPECT_EQ(r.integer_max, two62 + 3);
    ASSERT_TRUE(r.integer_sum.has_value());
    EXPECT_TRUE(*r.integer_sum == (Int128{1} << 63) + 4);
    EXPECT_EQ(strata::kernels::to_decimal(*r.integer_sum), "9223372036854775812");
    EXPECT_EQ(r.mean, 4611686018427387904.0);  // 2^62 + 2, rounded to double: 2^62
    EXPECT_EQ(r.variance, 1.0);  // deviations -1 and +1 (converted first, both would be 2^62)
    const StatsSummary e = summary_in_parts(std::vector<std::int64_t>{lo, hi, lo}, parts);
    EXPECT_EQ(strata::kernels::to_decimal(*e.integer_sum), "-9223372036854775809");
    EXPECT_EQ(e.integer_min, lo);
    EXPECT_EQ(e.integer_max, hi);
    // Spanning all of int64 (the split deviations): variance (2/9) (2^64 - 1)^2, as Python's
    // Fraction gives it rounded to double.
    EXPECT_DOUBLE_EQ(e.variance.value(), 7.561830376020854e+37);
  }
  // 5000 values 2^62 + i (i = 0..4999) across blocks, misaligned by one: the sum is
  // 5000 * 2^62 + 4999 * 5000 / 2 = 23058430092136939520000 + 12497500.
  std::vector<std::int64_t> many(5001);
  for (std::size_t i = 0; i < 5000; ++i) many[i + 1] = two62 + static_cast<std::int64_t>(i);
  for (std::size_t parts : {1, 2, 4}) {
    Stats s;
    s.add(std::span<const std::int64_t>(many).subspan(1));
    Stats t;
    for (std::size_t p = 0; p < parts; ++p) {
      Stats piece;
      piece.add(std::span<const std::int64_t>(many).subspan(1 + 5000 * p / parts, 5000 / parts));
      t.merge(piece);
    }
    for (const StatsSummary& r : {s.summary(), t.summary()}) {
      EXPECT_EQ(strata::kernels::to_decimal(*r.integer_sum), "23058430092136952017500");
      EXPECT_EQ(r.integer_min, two62);
      EXPECT_EQ(r.integer_max, two62 + 4999);
    }
  }
  // int32 extremes: exact too.
  const StatsSummary i32 =
      summary_in_parts(std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::min(), -1,
                                                 std::numeric_limits<std::int32_t>::max()},
                       2);
  EXPECT_EQ(strata::kernels::to_decimal(*i32.integer_sum), "-2");
  EXPECT_EQ(i32.integer_min, std::numeric_limits<std::int32_t>::min());
  // Mixed integer and floating values: no integer results claimed.
  Stats mixed;
  const double half[] = {0.5};
  const std::int32_t one[] = {1};
  mixed.add(std::span<const double>(half));
  mixed.add(std::span<const std::int32_t>(one));
  EXPECT_FALSE(mixed.summary().integer_sum.has_value());
  EXPECT_EQ(mixed.summary().sum, 1.5);
}

// A fast generator for the 10^8 test: splitmix64 gives 53-bit uniforms; the sum of four,
// centred and scaled, is close enough to normal noise (Irwin-Hall) and costs a few ns.
class FastNoise {
 public:
  double next() {
    double s = 0.0;
    for (int k = 0; k < 4; ++k) s += static_cast<double>(bits() >> 11) * 0x1.0p-53;
    return (s - 2.0) * 1.7320508075688772;  // unit variance
  }

 private:
  std::uint64_t bits() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t state_ = 42;
};

// Proves the accuracy claim: sum and variance of 10^8 values at 1e6 + unit noise (mean^2/var =
// 1e12, where a one-pass formula loses every digit) agree with long double to 1e-12 relative,
// in one call and in 64 KiB chunks merged one by one as a scheduler would.
TEST(Stats, HundredMillionValuesWithLargeOffsetMatchLongDouble) {
  constexpr std::size_t n = 100'000'000;
  std::vector<double> data(n);
  FastNoise noise;
  for (auto& x : data) x = 1e6 + noise.next();
  const std::span<const double> all(data);
  const auto want = reference(all);

  Stats one;
  one.add(all);
  EXPECT_EQ(one.count, n);
  EXPECT_LE(relative_error(one.sum, want.sum), 1e-12);
  EXPECT_LE(relative_error(one.m2, want.m2), 1e-12);
  EXPECT_LE(relative_error(one.mean, want.mean), 1e-12);

  Stats chunked;
  constexpr std::size_t chunk = 8192;  // 64 KiB of f64
  for (std::size_t i = 0; i < n; i += chunk) {
    Stats part;
    part.add(all.subspan(i, std::min(chunk, n - i)));
    chunked.merge(part);
  }
  EXPECT_EQ(chunked.count, n);
  EXPECT_LE(relative_error(chunked.sum, want.sum), 1e-12);
  EXPECT_LE(relative_error(chunked.m2, want.m2), 1e-12);
  std::printf("10^8 values: relative error sum %.2e, m2 %.2e (one span); %.2e, %.2e (chunked)\n",
              relative_error(one.sum, want.sum), relative_error(one.m2, want.m2),
              relative_error(chunked.sum, want.sum), relative_error(chunked.m2, want.m2));
}

}  // namespace
