// SPDX-License-Identifier: Apache-2.0
// Tests of strata::kernels::count_if and filter against scalar C++ comparisons written here:
// every compiled SIMD target, every type and Compare, odd sizes and misaligned starts, IEEE NaN
// behaviour, in-place filtering and the output contract.
#include "strata/kernels/filter.hpp"

#include <gtest/gtest.h>
#include <hwy/tests/hwy_gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace {

using strata::kernels::Compare;
using strata::kernels::count_if;
using strata::kernels::filter;

constexpr Compare kAll[] = {Compare::less,          Compare::less_equal, Compare::greater,
                            Compare::greater_equal, Compare::equal,      Compare::not_equal};
constexpr std::size_t kSizes[] = {0, 1, 2, 7, 8, 15, 16, 63, 1000 + 3, 4099};

template <typename T>
bool passes(T x, Compare op, T t) {
  switch (op) {
    case Compare::less: return x < t;
    case Compare::less_equal: return x <= t;
    case Compare::greater: return x > t;
    case Compare::greater_equal: return x >= t;
    case Compare::equal: return x == t;
    case Compare::not_equal: return x != t;
  }
  return false;
}

// Small integers (so `equal` passes often) and, for floating types, NaNs and infinities.
template <typename T>
std::vector<T> random_values(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> v(n);
  for (auto& x : v) {
    const auto r = rng() % 20;
    if constexpr (std::is_floating_point_v<T>) {
      if (r == 0) {
        x = std::numeric_limits<T>::quiet_NaN();
        continue;
      }
      if (r == 1) {
        x = (rng() % 2 ? 1 : -1) * std::numeric_limits<T>::infinity();
        continue;
      }
    }
    x = static_cast<T>(static_cast<int>(rng() % 11) - 5);
  }
  return v;
}

// Bit patterns, so that NaNs compare equal to themselves.
template <typename T>
bool same_values(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return false;
  }
  return true;
}

class FilterTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(FilterTest);

template <typename T>
void check_against_scalar(T threshold) {
  for (std::size_t n : kSizes) {
    const auto data = random_values<T>(n + 3, n);
    for (std::size_t offset = 0; offset <= 3; ++offset) {
      const std::span<const T> values(data.data() + offset, n);
      for (Compare op : kAll) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " offset=" << offset
                                        << " op=" << static_cast<int>(op));
        std::vector<T> want;
        for (T x : values) {
          if (passes(x, op, threshold)) want.push_back(x);
        }
        EXPECT_EQ(count_if(values, op, threshold), want.size());
        // The output starts one element in (misaligned) and has a guard element past its end.
        const T guard = static_cast<T>(77);
        std::vector<T> out(n + 2, guard);
        const std::size_t kept = filter(values, op, threshold, std::span<T>(out).subspan(1, n));
        EXPECT_EQ(out[n + 1], guard);
        std::vector<T> got(out.begin() + 1, out.begin() + 1 + static_cast<std::ptrdiff_t>(kept));
        EXPECT_TRUE(same_values(got, want));
      }
    }
  }
}

// Proves count_if and filter agree with C++'s own comparisons for every type and Compare, keep
// the passing values in order, and write nothing past the output span.
TEST_P(FilterTest, MatchesScalarComparisonsOnOddSizesAndOffsets) {
  check_against_scalar<double>(1.0);
  check_against_scalar<float>(-2.0f);
  check_against_scalar<std::int32_t>(0);
  check_against_scalar<std::int64_t>(3);
}

// Proves the IEEE policy: a NaN value passes only not_equal; a NaN threshold passes every value
// for not_equal and none for the others; infinities compare as ordinary values.
TEST_P(FilterTest, NaNComparesFalseExceptNotEqual) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> values(37, nan);
  values[3] = inf;
  values[20] = -inf;
  values[36] = 1.0;
  const std::span<const double> v(values);
  EXPECT_EQ(count_if(v, Compare::not_equal, 1.0), 36u);
  EXPECT_EQ(count_if(v, Compare::equal, 1.0), 1u);
  EXPECT_EQ(count_if(v, Compare::less, 1.0), 1u);             // -inf
  EXPECT_EQ(count_if(v, Compare::greater_equal, 1.0), 2u);    // inf, 1
  EXPECT_EQ(count_if(v, Compare::greater, inf), 0u);
  EXPECT_EQ(count_if(v, Compare::equal, inf), 1u);
  for (Compare op : kAll) {
    const std::size_t want = op == Compare::not_equal ? values.size() : 0;
    EXPECT_EQ(count_if(v, op, nan), want);
    std::vector<float> f(values.begin(), values.end());
    EXPECT_EQ(count_if(std::span<const float>(f), op, std::numeric_limits<float>::quiet_NaN()),
              want);
  }
}

// Proves filtering in place (output = input) compacts correctly.
TEST_P(FilterTest, InPlaceCompaction) {
  auto values = random_values<std::int64_t>(1003, 5);
  std::vector<std::int64_t> want;
  for (auto x : values) {
    if (x >= 0) want.push_back(x);
  }
  const std::size_t kept = filter(std::span<const std::int64_t>(values), Compare::greater_equal,
                                  std::int64_t{0}, std::span<std::int64_t>(values));
  values.resize(kept);
  EXPECT_EQ(values, want);
}

// Proves filter's output contract: too small an output, a partial overlap, or an unknown
// Compare are std::invalid_argument; count_if answers 0 for an unknown Compare.
TEST(Filter, RejectsShortOrOverlappingOutput) {
  std::vector<double> values(10, 1.0), out(9);
  EXPECT_THROW(filter(std::span<const double>(values), Compare::equal, 1.0, out),
               std::invalid_argument);
  EXPECT_THROW(filter(std::span<const double>(values).first(9), Compare::equal, 1.0,
                      std::span<double>(values).subspan(1)),
               std::invalid_argument);
  std::vector<double> room(10);
  EXPECT_THROW(filter(std::span<const double>(values), static_cast<Compare>(42), 1.0, room),
               std::invalid_argument);
  EXPECT_EQ(count_if(std::span<const double>(values), static_cast<Compare>(42), 1.0), 0u);
}

}  // namespace
