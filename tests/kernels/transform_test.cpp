// SPDX-License-Identifier: Apache-2.0
// Tests of strata::kernels scale, axpy, affine and copy against scalar references written here:
// every compiled SIMD target, odd sizes and misaligned starts, fused or unfused multiply-add
// applied alike to every element, IEEE propagation, copies around the streaming threshold.
#include "strata/kernels/transform.hpp"

#include <gtest/gtest.h>
#include <hwy/tests/hwy_gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

namespace {

namespace k = strata::kernels;

constexpr std::size_t kSizes[] = {0, 1, 2, 7, 8, 15, 16, 63, 1000 + 3};

template <typename T>
std::vector<T> random_values(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<T> any(-10, 10);
  std::vector<T> v(n);
  for (auto& x : v) x = any(rng);
  return v;
}

// a x + b with one rounding, and with two (volatile keeps the compiler from fusing them).
template <typename T>
T fused(T a, T x, T b) {
  return std::fma(a, x, b);
}
template <typename T>
T unfused(T a, T x, T b) {
  volatile T product = a * x;
  return product + b;
}

// True when `got` equals the fused reference everywhere or the unfused one everywhere: a
// target may fuse or not, but must treat every element alike (remainder lanes included).
template <typename T>
bool one_rounding_rule(const std::vector<T>& got, const std::vector<T>& with_fma,
                       const std::vector<T>& without_fma) {
  return got == with_fma || got == without_fma;
}

class TransformTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(TransformTest);

template <typename T>
void check_transforms() {
  const T a = static_cast<T>(1.37), b = static_cast<T>(-0.61);
  for (std::size_t n : kSizes) {
    const auto xs = random_values<T>(n + 3, n);
    const auto ys = random_values<T>(n + 3, n + 100);
    for (std::size_t offset = 0; offset <= 3; ++offset) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " offset=" << offset);
      const std::span<const T> x(xs.data() + offset, n);
      std::vector<T> scaled(x.begin(), x.end()), want_scaled(n);
      std::vector<T> fma_axpy(n), plain_axpy(n), fma_affine(n), plain_affine(n);
      for (std::size_t i = 0; i < n; ++i) {
        want_scaled[i] = a * x[i];
        fma_axpy[i] = fused(a, x[i], ys[offset + i]);
        plain_axpy[i] = unfused(a, x[i], ys[offset + i]);
        fma_affine[i] = fused(a, x[i], b);
        plain_affine[i] = unfused(a, x[i], b);
      }
      if (n >= 1000) {  // the data must tell the two rounding rules apart
        ASSERT_NE(fma_axpy, plain_axpy);
        ASSERT_NE(fma_affine, plain_affine);
      }
      k::scale(std::span<T>(scaled), a);
      EXPECT_EQ(scaled, want_scaled);

      std::vector<T> y(ys.begin() + static_cast<std::ptrdiff_t>(offset),
                       ys.begin() + static_cast<std::ptrdiff_t>(offset + n));
      k::axpy(a, x, std::span<T>(y));
      EXPECT_TRUE(one_rounding_rule(y, fma_axpy, plain_axpy));

      std::vector<T> out(n + 1);  // misaligned output
      k::affine(x, a, b, std::span<T>(out).subspan(1));
      EXPECT_TRUE(one_rounding_rule(std::vector<T>(out.begin() + 1, out.end()), fma_affine,
                                    plain_affine));
    }
  }
}

// Proves scale equals a x exactly, and axpy/affine equal a x + b with one rounding or two,
// the same for every element, at odd sizes and misaligned starts.
TEST_P(TransformTest, MatchesScalarReferenceOnOddSizesAndOffsets) {
  check_transforms<float>();
  check_transforms<double>();
}

// Proves transforms in place (x and y, or x and out, the same span) give the same results.
TEST_P(TransformTest, InPlaceMatchesOutOfPlace) {
  const auto xs = random_values<double>(1003, 9);
  std::vector<double> in_place = xs, separate(xs.size());
  k::affine(std::span<const double>(in_place), 2.5, 1.0, std::span<double>(in_place));
  k::affine(std::span<const double>(xs), 2.5, 1.0, std::span<double>(separate));
  EXPECT_EQ(in_place, separate);
  std::vector<double> twice = xs, sum = xs;
  k::axpy(1.0, std::span<const double>(twice), std::span<double>(twice));  // y = x + x
  for (auto& v : sum) v += v;
  EXPECT_EQ(twice, sum);
}

// Proves IEEE propagation: NaN stays NaN, infinity times zero is NaN, infinity passes through.
TEST_P(TransformTest, NaNAndInfinityFollowIEEE) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> x = {inf, -inf, nan, 1.0, inf, 2.0, 3.0, nan, -inf};
  std::vector<double> zeroed = x;
  k::scale(std::span<double>(zeroed), 0.0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isfinite(x[i])) {
      EXPECT_EQ(zeroed[i], 0.0);
    } else {
      EXPECT_TRUE(std::isnan(zeroed[i])) << i;
    }
  }
  std::vector<double> out(x.size());
  k::affine(std::span<const double>(x), 2.0, 1.0, std::span<double>(out));
  EXPECT_EQ(out[0], inf);
  EXPECT_EQ(out[1], -inf);
  EXPECT_TRUE(std::isnan(out[2]));
  EXPECT_EQ(out[3], 3.0);
}

// Proves the size and overlap contract of the two-span transforms and of copy.
TEST(Transform, RejectsMismatchedOrOverlappingSpans) {
  std::vector<double> a(10), b(9);
  EXPECT_THROW(k::axpy(1.0, std::span<const double>(a), std::span<double>(b)),
               std::invalid_argument);
  EXPECT_THROW(k::affine(std::span<const double>(a), 1.0, 0.0, std::span<double>(b)),
               std::invalid_argument);
  EXPECT_THROW(k::axpy(1.0, std::span<const double>(a).first(9), std::span<double>(a).last(9)),
               std::invalid_argument);
  std::vector<std::byte> bytes(100);
  EXPECT_THROW(k::copy(std::span<const std::byte>(bytes).first(50), std::span(bytes).last(49)),
               std::invalid_argument);
  EXPECT_THROW(k::copy(std::span<const std::byte>(bytes).first(60), std::span(bytes).last(60)),
               std::invalid_argument);
  EXPECT_NO_THROW(k::copy(std::span<const std::byte>(bytes), std::span(bytes)));
}

class CopyTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(CopyTest);

// Proves copy moves exactly the bytes asked, below, at and above the streaming threshold, from
// and to misaligned addresses, and touches nothing around the destination.
TEST_P(CopyTest, CopiesExactlyAroundTheStreamingThreshold) {
  const std::size_t sizes[] = {0, 1, 63, 4097, k::kStreamingCopyBytes,
                               k::kStreamingCopyBytes + 1, k::kStreamingCopyBytes + 4099};
  std::mt19937_64 rng(1);
  std::vector<std::byte> source(k::kStreamingCopyBytes + 4099 + 8);
  for (auto& b : source) b = static_cast<std::byte>(rng());
  for (std::size_t n : sizes) {
    for (std::size_t offset : {0, 1, 3}) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " offset=" << offset);
      std::vector<std::byte> destination(n + 16, std::byte{0xA5});
      const std::span<const std::byte> from(source.data() + (offset + 2) % 4, n);
      k::copy(from, std::span(destination).subspan(8 + offset, n));
      EXPECT_EQ(std::memcmp(destination.data() + 8 + offset, from.data(), n), 0);
      for (std::size_t i = 0; i < 8 + offset; ++i) EXPECT_EQ(destination[i], std::byte{0xA5});
      for (std::size_t i = 8 + offset + n; i < destination.size(); ++i) {
        EXPECT_EQ(destination[i], std::byte{0xA5});
      }
    }
  }
}

}  // namespace
