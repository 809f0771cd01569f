// SPDX-License-Identifier: Apache-2.0
// Tests of round_up, checked_round_up and divide_round_up at ordinary values and at the top of
// the range, where a naive value + unit - 1 wraps to a small number.
#include "strata/runtime/base/round_up.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// Proves exact multiples stay, others go to the next multiple, and zero stays zero.
TEST(RoundUp, RoundsToTheNextMultiple) {
  EXPECT_EQ(strata::round_up(std::uint64_t{0}, std::uint64_t{4096}), 0u);
  EXPECT_EQ(strata::round_up(std::uint64_t{1}, std::uint64_t{4096}), 4096u);
  EXPECT_EQ(strata::round_up(std::uint64_t{4096}, std::uint64_t{4096}), 4096u);
  EXPECT_EQ(strata::round_up(std::uint64_t{4097}, std::uint64_t{4096}), 8192u);
  EXPECT_EQ(strata::round_up(std::size_t{100}, std::size_t{3}), 102u);
}

// Proves a value whose rounding does not fit is reported, not wrapped (the chunk_bytes near 2^64
// that once made a chunk count of 0).
TEST(RoundUp, CheckedFormReportsOverflowInsteadOfWrapping) {
  EXPECT_FALSE(strata::checked_round_up(kMax - 4095, std::uint64_t{8192}).has_value());
  EXPECT_FALSE(strata::checked_round_up(kMax, std::uint64_t{2}).has_value());
  const auto top = strata::checked_round_up(kMax - 8190, std::uint64_t{4096});
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(*top, kMax - 4095);  // 2^64 - 8191 goes to 2^64 - 4096, the largest multiple
}

// Proves the ceiling division is exact where value + unit - 1 would overflow.
TEST(DivideRoundUp, ExactAtTheTopOfTheRange) {
  EXPECT_EQ(strata::divide_round_up(std::uint64_t{0}, std::uint64_t{7}), 0u);
  EXPECT_EQ(strata::divide_round_up(std::uint64_t{7}, std::uint64_t{7}), 1u);
  EXPECT_EQ(strata::divide_round_up(std::uint64_t{8}, std::uint64_t{7}), 2u);
  EXPECT_EQ(strata::divide_round_up(kMax, kMax - 4095), 2u);
  EXPECT_EQ(strata::divide_round_up(kMax, std::uint64_t{1}), kMax);
}

}  // namespace
