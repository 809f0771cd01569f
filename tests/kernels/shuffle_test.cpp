// SPDX-License-Identifier: Apache-2.0
// Tests of strata::kernels byte_shuffle and byte_unshuffle against a scalar reference written
// here: every compiled SIMD target, element sizes 1 to 9 and 16, odd sizes with tails shorter than
// an element, misaligned starts, the exact inverse, and bad arguments refused.
#include "strata/kernels/shuffle.hpp"

#include <gtest/gtest.h>
#include <hwy/tests/hwy_gtest.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

namespace {

namespace k = strata::kernels;

std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

// out[k * count + i] = in[i * K + k], the tail copied: the definition in shuffle.hpp.
std::vector<std::byte> reference_shuffle(std::span<const std::byte> in, std::size_t element_bytes) {
  std::vector<std::byte> out(in.begin(), in.end());
  const std::size_t count = in.size() / element_bytes;
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t b = 0; b < element_bytes; ++b) out[b * count + i] = in[i * element_bytes + b];
  return out;
}

class ShuffleTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(ShuffleTest);

// Proves both directions match the reference on this target for every element size, across
// vector-multiple and odd counts (so the vector loop, its scalar remainder and the byte tail all
// run), from misaligned starts, and that unshuffle restores the input exactly.
TEST_P(ShuffleTest, MatchesTheReferenceAndInvertsExactly) {
  const std::size_t element_sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16};
  const std::size_t counts[] = {0, 1, 7, 16, 63, 64, 65, 255, 256, 1000, 4099};
  for (std::size_t element_bytes : element_sizes) {
    for (std::size_t count : counts) {
      for (std::size_t tail : {std::size_t{0}, element_bytes - 1}) {
        const std::size_t n = count * element_bytes + tail;
        for (std::size_t offset : {std::size_t{0}, std::size_t{3}}) {
          SCOPED_TRACE(testing::Message() << "K=" << element_bytes << " count=" << count
                                          << " tail=" << tail << " offset=" << offset);
          const auto source = random_bytes(n + offset, n * 31 + element_bytes);
          const std::span<const std::byte> in(source.data() + offset, n);
          std::vector<std::byte> shuffled(n + offset);
          k::byte_shuffle(in, element_bytes, std::span(shuffled.data() + offset, n));
          const std::vector<std::byte> got(shuffled.begin() + static_cast<std::ptrdiff_t>(offset),
                                           shuffled.end());
          ASSERT_EQ(got, reference_shuffle(in, element_bytes));
          std::vector<std::byte> back(n);
          k::byte_unshuffle(got, element_bytes, back);
          ASSERT_TRUE(std::equal(back.begin(), back.end(), in.begin()));
        }
      }
    }
  }
}

// Proves spans of different sizes, overlapping spans and 0-byte elements are refused.
TEST(Shuffle, BadArgumentsAreRefused) {
  std::vector<std::byte> a(64), b(64), c(63);
  EXPECT_THROW(k::byte_shuffle(a, 8, c), std::invalid_argument);
  EXPECT_THROW(k::byte_unshuffle(a, 8, c), std::invalid_argument);
  EXPECT_THROW(k::byte_shuffle(a, 0, b), std::invalid_argument);
  EXPECT_THROW(k::byte_shuffle(std::span(a).first(32), 8, std::span(a).subspan(16, 32)),
               std::invalid_argument);
  EXPECT_NO_THROW(k::byte_shuffle(a, 8, b));
}

}  // namespace
