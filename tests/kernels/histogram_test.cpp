// SPDX-License-Identifier: Apache-2.0
// Tests of strata::kernels::Histogram against the bin rule of its header, evaluated here in
// scalar code: every compiled SIMD target, every value type, odd sizes and misaligned starts,
// under/overflow, infinities and NaNs, merging and the byte image.
#include "strata/kernels/histogram.hpp"

#include <gtest/gtest.h>
#include <hwy/tests/hwy_gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace {

using strata::kernels::Histogram;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

constexpr std::size_t kSizes[] = {0, 1, 2, 7, 8, 15, 63, 1000 + 3, 2047, 2049, 3 * 2048 + 5};

// The header's rule, written out: counts per bin plus underflow, overflow and NaNs.
struct Expected {
  std::vector<std::uint64_t> counts;
  std::uint64_t underflow = 0;
  std::uint64_t overflow = 0;
  std::uint64_t nan_count = 0;
};

template <typename T>
Expected expected(std::span<const T> values, double low, double high, std::size_t bins) {
  Expected e;
  e.counts.assign(bins, 0);
  for (T v : values) {
    const double x = static_cast<double>(v);
    if (std::isnan(x)) {
      ++e.nan_count;
    } else if (x < low) {
      ++e.underflow;
    } else if (x >= high) {
      ++e.overflow;
    } else {
      const double q = std::floor((x - low) * static_cast<double>(bins) / (high - low));
      ++e.counts[std::min(static_cast<std::size_t>(q), bins - 1)];
    }
  }
  return e;
}

void expect_equal(const Histogram& h, const Expected& e) {
  EXPECT_EQ(h.counts(), e.counts);
  EXPECT_EQ(h.underflow(), e.underflow);
  EXPECT_EQ(h.overflow(), e.overflow);
  EXPECT_EQ(h.nan_count(), e.nan_count);
}

// Values reaching past [low, high) on both sides; floating ones also hit low and high exactly,
// sit on and one ulp around inner bin edges (where a product with 1 / range and the rule's
// division part ways), and include NaN and infinities.
template <typename T>
std::vector<T> random_values(std::size_t n, std::uint64_t seed, double low, double high,
                             std::size_t bins) {
  std::mt19937_64 rng(seed);
  std::vector<T> v(n);
  const double margin = (high - low) / 4;
  if constexpr (std::is_floating_point_v<T>) {
    std::uniform_real_distribution<double> any(low - margin, high + margin);
    for (auto& x : v) {
      switch (rng() % 16) {
        case 0: x = static_cast<T>(low); break;
        case 1: x = static_cast<T>(high); break;
        case 2: x = static_cast<T>(kNaN); break;
        case 3: x = static_cast<T>(rng() % 2 ? kInf : -kInf); break;
        case 4: x = std::nextafter(static_cast<T>(high), T{0}); break;  // the clamp
        case 5:
        case 6: {
          const double edge = low + (high - low) * static_cast<double>(rng() % bins) /
                                        static_cast<double>(bins);
          const T on = static_cast<T>(edge);
          const int side = static_cast<int>(rng() % 3);
          x = side == 0 ? on : std::nextafter(on, static_cast<T>(side == 1 ? -kInf : kInf));
          break;
        }
        default: x = static_cast<T>(any(rng));
      }
    }
  } else {
    std::uniform_int_distribution<std::int64_t> any(static_cast<std::int64_t>(low - margin),
                                                    static_cast<std::int64_t>(high + margin));
    for (auto& x : v) x = static_cast<T>(any(rng));
  }
  return v;
}

class HistogramTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(HistogramTest);

template <typename T>
void check_against_rule(double low, double high, std::size_t bins) {
  for (std::size_t n : kSizes) {
    const auto data = random_values<T>(n + 3, n, low, high, bins);
    for (std::size_t offset = 0; offset <= 3; ++offset) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " offset=" << offset << " bins=" << bins);
      const std::span<const T> values(data.data() + offset, n);
      Histogram h(low, high, bins);
      h.add(values);
      expect_equal(h, expected(values, low, high, bins));
      EXPECT_EQ(h.total(), n);
    }
  }
}

// Proves every type's counts equal the scalar rule at odd sizes and misaligned starts, through
// both the direct path (few values per bin) and the sub-histogram path (many).
TEST_P(HistogramTest, MatchesScalarBinRuleOnOddSizesAndOffsets) {
  check_against_rule<double>(-2.5, 7.25, 13);
  check_against_rule<double>(0.0, 1.0, 1);
  check_against_rule<double>(0.0, 100.0, 5000);  // more bins than most spans have values
  check_against_rule<float>(-2.5, 7.25, 13);
  check_against_rule<std::int32_t>(-100, 100, 7);
  check_against_rule<std::int64_t>(-100, 100, 7);
  check_against_rule<std::uint8_t>(10, 250, 17);
  check_against_rule<std::uint8_t>(0, 256, 256);
}

// Proves the edge cases of the rule: -inf under, +inf over, NaN apart, low in bin 0, high
// over, the largest value below high clamped into the last bin, and integer quotients exact.
TEST_P(HistogramTest, EdgesInfinitiesAndNaNs) {
  const double values[] = {-kInf, kInf, kNaN, 0.0, -0.0, 10.0, std::nextafter(10.0, 0.0),
                           -1e-300, 2.5, 5.0, 7.5, 1e308};
  Histogram h(0.0, 10.0, 4);
  h.add(std::span<const double>(values));
  EXPECT_EQ(h.underflow(), 2u);  // -inf, -1e-300
  EXPECT_EQ(h.overflow(), 3u);   // +inf, 10, 1e308
  EXPECT_EQ(h.nan_count(), 1u);
  EXPECT_EQ(h.counts(), (std::vector<std::uint64_t>{2, 1, 1, 2}));  // 0,-0 | 2.5 | 5 | 7.5,10-
  EXPECT_EQ(h.total(), std::size(values));

  // 0..99 into 10 bins of [0, 100): (x * 10) / 100 is an exact integer at each edge.
  std::vector<std::int32_t> ints(100);
  for (int i = 0; i < 100; ++i) ints[static_cast<std::size_t>(i)] = i;
  Histogram tens(0.0, 100.0, 10);
  tens.add(std::span<const std::int32_t>(ints));
  EXPECT_EQ(tens.counts(), std::vector<std::uint64_t>(10, 10));

  // 0..48 into 7 bins of [0, 49): x * 7 / 49 is exact at 7, 14, ..., where x * 7 * (1 / 49)
  // falls just short (1/49 rounds down), so this fails unless the rule really divides.
  Histogram sevens(0.0, 49.0, 7);
  sevens.add(std::span<const std::int32_t>(ints).first(49));
  EXPECT_EQ(sevens.counts(), std::vector<std::uint64_t>(7, 7));
}

// Proves long runs of one bin (the sub-histograms' reason to exist) and all-NaN input are
// counted exactly.
TEST_P(HistogramTest, RepeatedValuesAreCountedExactly) {
  std::vector<double> same(100'003, 42.0);
  same[500] = kNaN;
  Histogram h(0.0, 100.0, 64);
  h.add(std::span<const double>(same));
  EXPECT_EQ(h.counts()[26], 100'002u);  // floor(42 * 64 / 100) = 26
  EXPECT_EQ(h.nan_count(), 1u);
  EXPECT_EQ(h.total(), same.size());

  std::vector<float> nans(5000, std::numeric_limits<float>::quiet_NaN());
  Histogram n(0.0, 1.0, 3);
  n.add(std::span<const float>(nans));
  EXPECT_EQ(n.nan_count(), 5000u);
  EXPECT_EQ(n.total(), 5000u);
}

// Proves the constructor's contract: finite low < high, 1 <= bins <= 2^24, finite range * bins.
TEST(Histogram, ConstructorRejectsBadRanges) {
  EXPECT_THROW(Histogram(1.0, 1.0, 4), std::invalid_argument);
  EXPECT_THROW(Histogram(2.0, 1.0, 4), std::invalid_argument);
  EXPECT_THROW(Histogram(kNaN, 1.0, 4), std::invalid_argument);
  EXPECT_THROW(Histogram(0.0, kInf, 4), std::invalid_argument);
  EXPECT_THROW(Histogram(0.0, 1.0, 0), std::invalid_argument);
  EXPECT_THROW(Histogram(0.0, 1.0, (std::size_t{1} << 24) + 1), std::invalid_argument);
  EXPECT_THROW(Histogram(-1e308, 1e308, 4), std::invalid_argument);  // the range overflows
  EXPECT_NO_THROW(Histogram(0.0, 1.0, std::size_t{1} << 24));
  const Histogram h(-1.0, 1.0, 4);
  EXPECT_EQ(h.edge(0), -1.0);
  EXPECT_EQ(h.edge(1), -0.5);
  EXPECT_EQ(h.edge(4), 1.0);
}

// Proves merge adds every counter, treats an empty default histogram as the identity, and
// refuses histograms with other bins.
TEST(Histogram, MergeAddsCountsAndRejectsOtherBins) {
  const double a_values[] = {0.1, 0.6, -1.0, kNaN};
  const double b_values[] = {0.2, 0.3, 2.0};
  Histogram a(0.0, 1.0, 2), b(0.0, 1.0, 2);
  a.add(std::span<const double>(a_values));
  b.add(std::span<const double>(b_values));
  Histogram sum;
  sum.merge(a);
  sum.merge(b);
  sum.merge(Histogram{});
  EXPECT_EQ(sum.counts(), (std::vector<std::uint64_t>{3, 1}));
  EXPECT_EQ(sum.underflow(), 1u);
  EXPECT_EQ(sum.overflow(), 1u);
  EXPECT_EQ(sum.nan_count(), 1u);
  EXPECT_THROW(a.merge(Histogram(0.0, 1.0, 3)), std::invalid_argument);
  EXPECT_THROW(a.merge(Histogram(0.0, 2.0, 2)), std::invalid_argument);
}

// Proves serialize/deserialize round-trip every field, and malformed images are refused.
TEST(Histogram, SerializeRoundTripsAndRejectsMalformedBytes) {
  const double values[] = {0.1, 0.6, 0.7, -1.0, 5.0, kNaN};
  Histogram h(0.0, 1.0, 3);
  h.add(std::span<const double>(values));
  const auto bytes = h.serialize();
  EXPECT_EQ(bytes.size(), 64u + 3 * 8);
  EXPECT_EQ(Histogram::deserialize(bytes), h);
  EXPECT_EQ(Histogram::deserialize(Histogram{}.serialize()), Histogram{});

  EXPECT_THROW(Histogram::deserialize(std::span(bytes).first(10)), std::invalid_argument);
  EXPECT_THROW(Histogram::deserialize(std::span(bytes).first(bytes.size() - 1)),
               std::invalid_argument);
  auto bad_magic = bytes;
  bad_magic[0] = std::byte{0};
  EXPECT_THROW(Histogram::deserialize(bad_magic), std::invalid_argument);
  auto bad_range = bytes;
  bad_range[8 + 7] = std::byte{0x7f};  // low's top byte: low becomes huge, above high
  EXPECT_THROW(Histogram::deserialize(bad_range), std::invalid_argument);
}

// Proves the top edge: with HighEdge::overflow (the default) a value equal to high is overflow
// (every bin half-open); with HighEdge::last_bin (NumPy's rule) it goes into the last bin and
// only values above high are overflow — for every type, through both counting paths (a short
// span counts directly, a long one through sub-histograms); the flag survives serialize and
// merging histograms of different rules is refused.
TEST(Histogram, HighEdgeOverflowOrLastBin) {
  for (std::size_t repeat : {std::size_t{1}, std::size_t{1000}}) {
    std::vector<double> values;
    for (std::size_t i = 0; i < repeat; ++i) {
      for (double x : {0.0, 2.5, 9.999, 10.0, 10.5, -1.0}) values.push_back(x);
    }
    auto check = [&](const auto& typed) {
      using T = typename std::decay_t<decltype(typed)>::value_type;
      Histogram half(0.0, 10.0, 4);
      Histogram closed(0.0, 10.0, 4, strata::kernels::HighEdge::last_bin);
      half.add(std::span<const T>(typed));
      closed.add(std::span<const T>(typed));
      // Bins [0, 2.5) [2.5, 5) [5, 7.5) [7.5, 10); each value `repeat` times. Integers
      // truncate: 2.5 -> 2 (first bin), 9.999 -> 9, 10.5 -> 10 (the top edge).
      const bool integral = std::is_integral_v<T>;
      const std::uint64_t r = repeat;
      const std::uint64_t second = integral ? 0 : r;
      EXPECT_EQ(half.counts(), (std::vector<std::uint64_t>{r * (integral ? 2 : 1), second, 0, r}));
      EXPECT_EQ(half.overflow(), 2 * r);
      EXPECT_EQ(closed.counts(), (std::vector<std::uint64_t>{r * (integral ? 2 : 1), second, 0,
                                                             r * (integral ? 3 : 2)}));
      EXPECT_EQ(closed.overflow(), integral ? 0 : r);
      EXPECT_EQ(half.underflow(), r);
      EXPECT_EQ(closed.underflow(), r);
    };
    check(values);
    check(std::vector<float>(values.begin(), values.end()));
    std::vector<std::int32_t> i32;
    std::vector<std::int64_t> i64;
    for (double x : values) {
      i32.push_back(static_cast<std::int32_t>(x));
      i64.push_back(static_cast<std::int64_t>(x));
    }
    check(i32);
    check(i64);
  }
  Histogram closed(0.0, 10.0, 4, strata::kernels::HighEdge::last_bin);
  const std::uint8_t bytes[] = {10, 11};
  closed.add(std::span<const std::uint8_t>(bytes));
  EXPECT_EQ(closed.counts()[3], 1u);
  EXPECT_EQ(closed.overflow(), 1u);
  EXPECT_EQ(Histogram::deserialize(closed.serialize()), closed);
  EXPECT_EQ(Histogram::deserialize(closed.serialize()).high_edge(),
            strata::kernels::HighEdge::last_bin);
  Histogram half(0.0, 10.0, 4);
  EXPECT_THROW(half.merge(closed), std::invalid_argument);
}

// Proves the documented behaviour of add() on a default-constructed (binless) histogram.
TEST(Histogram, DefaultConstructedCountsOnlyOutsideAndNaN) {
  const double values[] = {-1.0, 0.5, 3.0, kNaN};
  Histogram h;
  h.add(std::span<const double>(values));
  EXPECT_EQ(h.bins(), 0u);
  EXPECT_EQ(h.underflow(), 1u);
  EXPECT_EQ(h.overflow(), 2u);
  EXPECT_EQ(h.nan_count(), 1u);
}

}  // namespace
