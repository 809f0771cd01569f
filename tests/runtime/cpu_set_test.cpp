// SPDX-License-Identifier: Apache-2.0
// Tests of CpuSet: the Linux CPU-list form that topology, binding and Slurm share.
#include "strata/runtime/base/cpu_set.hpp"

#include <gtest/gtest.h>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::CpuSet;

// Proves ranges, singles and unordered input parse to the sorted set they denote.
TEST(CpuSet, ParsesRangesAndSingles) {
  EXPECT_EQ(CpuSet::parse("0-3,8").cpus(), (std::vector<unsigned>{0, 1, 2, 3, 8}));
  EXPECT_EQ(CpuSet::parse("9,2,2,5-6").cpus(), (std::vector<unsigned>{2, 5, 6, 9}));
  EXPECT_TRUE(CpuSet::parse("").empty());
}

// Proves printing compresses consecutive CPUs into ranges, the form taskset and Slurm print.
TEST(CpuSet, PrintsCompressedRanges) {
  EXPECT_EQ(CpuSet({0, 1, 2, 3, 8, 10, 11}).to_string(), "0-3,8,10-11");
  EXPECT_EQ(CpuSet({5}).to_string(), "5");
  EXPECT_EQ(CpuSet().to_string(), "");
}

// Proves malformed lists are rejected with invalid_argument instead of being half-parsed.
TEST(CpuSet, RejectsMalformedLists) {
  for (const char* bad : {"a", "1-", "-1", "3-1", "1,,2", "1,", "0x3", "1 2"}) {
    try {
      CpuSet::parse(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument) << bad;
    }
  }
}

// Proves intersection keeps exactly the common CPUs.
TEST(CpuSet, Intersects) {
  CpuSet a = CpuSet::parse("0-5");
  CpuSet b = CpuSet::parse("4-9");
  EXPECT_EQ(a.intersect(b), CpuSet::parse("4-5"));
  EXPECT_TRUE(a.intersects(b));
  EXPECT_FALSE(a.intersects(CpuSet::parse("6-7")));
  EXPECT_TRUE(a.contains(5));
  EXPECT_FALSE(a.contains(6));
}

}  // namespace
