// SPDX-License-Identifier: Apache-2.0
// Tests of the SIMD target report: what dispatch picks must be compiled in and run on this CPU.
#include "strata/kernels/simd_targets.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Proves the dispatched target is one that was compiled and that the CPU supports, and that it
// is the best such target (compiled lists best first).
TEST(SimdTargets, DispatchPicksBestCompiledSupportedTarget) {
  auto t = strata::kernels::simd_targets();
  ASSERT_FALSE(t.compiled.empty());
  ASSERT_FALSE(t.supported.empty());
  EXPECT_TRUE(contains(t.compiled, t.dispatched)) << t.dispatched;
  EXPECT_TRUE(contains(t.supported, t.dispatched)) << t.dispatched;
  for (const auto& name : t.compiled) {
    if (contains(t.supported, name)) {
      EXPECT_EQ(name, t.dispatched);
      break;
    }
  }
}

}  // namespace
