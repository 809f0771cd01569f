// SPDX-License-Identifier: Apache-2.0
// Tests of the error module: how an errno becomes an Error, and what STRATA_ASSERT does.
#include "strata/runtime/base/error.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "strata/runtime/base/assert.hpp"

namespace {

using strata::ErrorCategory;

// Proves a full disk, a quota, a too-large file and exhausted memory or descriptors are resource
// errors (a caller frees space or retries elsewhere) and any other errno is an io error.
TEST(Errno, CategoryOfErrnoSeparatesExhaustionFromFailure) {
  for (int err : {ENOSPC, EDQUOT, EFBIG, ENOMEM, EMFILE, ENFILE}) {
    EXPECT_EQ(strata::category_of_errno(err), ErrorCategory::resource) << std::strerror(err);
  }
  for (int err : {ENOENT, EACCES, EIO, EISDIR, EINVAL}) {
    EXPECT_EQ(strata::category_of_errno(err), ErrorCategory::io) << std::strerror(err);
  }
}

// Proves throw_errno throws one Error whose message ends in the errno's text and keeps context.
TEST(Errno, ThrowErrnoCarriesTextCategoryAndContext) {
  try {
    strata::throw_errno("cannot write the shard", EDQUOT, {{"file", "/ckpt/shard-0"}});
    FAIL() << "throw_errno returned";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::resource);
    EXPECT_EQ(e.message(), std::string("cannot write the shard: ") + std::strerror(EDQUOT));
    EXPECT_EQ(e.context_value("file"), "/ckpt/shard-0");
  }
}

// Proves the fixed-category form keeps the caller's category whatever the errno.
TEST(Errno, FixedCategoryOverridesTheErrnoMapping) {
  try {
    strata::throw_errno(ErrorCategory::resource, "mmap refused", EINVAL);
    FAIL() << "throw_errno returned";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::resource);
    EXPECT_NE(e.message().find(std::strerror(EINVAL)), std::string::npos);
  }
}

#if defined(STRATA_ASSERTS) && STRATA_ASSERTS
// Proves a broken invariant stops the process with the condition named (debug/sanitizer builds).
TEST(StrataAssertDeathTest, BrokenInvariantAbortsNamingTheCondition) {
  const int live_blocks = 0;
  EXPECT_DEATH(STRATA_ASSERT(live_blocks > 0), "internal invariant broken: live_blocks > 0");
}
#else
// Proves a release build does not evaluate the asserted expression (it costs nothing).
TEST(StrataAssert, ReleaseBuildDoesNotEvaluateTheCondition) {
  int evaluations = 0;
  STRATA_ASSERT(++evaluations > 0);
  EXPECT_EQ(evaluations, 0);
}
#endif

}  // namespace
