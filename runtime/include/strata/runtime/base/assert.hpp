// SPDX-License-Identifier: Apache-2.0
// STRATA_ASSERT(condition): checks an internal invariant (a pool's free list, an epoch's state, a
// handle's slot) in the debug and sanitizer builds, and costs nothing in release builds.
//
//   STRATA_ASSERT(slot.age <= kMaxAge);
//
// Bad input never reaches an assert: it gets a strata::Error. An assert that fires is a bug in
// strata; it prints the condition with its file and line and aborts, so a sanitizer or a debugger
// stops at the broken invariant, not later where it does damage. CMake's STRATA_ASSERTS option
// (on in the debug, asan and tsan presets) defines STRATA_ASSERTS=1.
#pragma once

namespace strata::detail {
[[noreturn]] void assertion_failed(const char* condition, const char* file, int line) noexcept;
}  // namespace strata::detail

#if defined(STRATA_ASSERTS) && STRATA_ASSERTS
#define STRATA_ASSERT(condition)                                               \
  ((condition) ? static_cast<void>(0)                                          \
               : ::strata::detail::assertion_failed(#condition, __FILE__, __LINE__))
#else
#define STRATA_ASSERT(condition) static_cast<void>(sizeof(!(condition)))
#endif
