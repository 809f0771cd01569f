// SPDX-License-Identifier: Apache-2.0
// The failure path of STRATA_ASSERT: one line on stderr, then abort.
#include "strata/runtime/base/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace strata::detail {

void assertion_failed(const char* condition, const char* file, int line) noexcept {
  std::fprintf(stderr, "strata: internal invariant broken: %s (%s:%d)\n", condition, file, line);
  std::abort();
}

}  // namespace strata::detail
