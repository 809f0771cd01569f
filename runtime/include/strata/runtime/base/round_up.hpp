// SPDX-License-Identifier: Apache-2.0
// Rounding sizes to a unit (pages, alignment, chunks), the one spelling of it. Sizes often come
// from files and users, so the checked form reports a result that would not fit instead of
// wrapping to a small number.
//
//   auto len = strata::checked_round_up(bytes, page);   // std::nullopt when it overflows
//   std::uint64_t chunks = strata::divide_round_up(bytes, chunk_bytes);
#pragma once

#include <concepts>
#include <limits>
#include <optional>

#include "strata/runtime/base/assert.hpp"

namespace strata {

// ceil(value / unit) for unit > 0, without the value + unit - 1 that wraps near the top.
template <std::unsigned_integral T>
constexpr T divide_round_up(T value, T unit) noexcept {
  STRATA_ASSERT(unit != 0);
  return value / unit + (value % unit != 0 ? 1 : 0);
}

// value rounded up to a multiple of unit (> 0), or std::nullopt when that does not fit in T.
template <std::unsigned_integral T>
constexpr std::optional<T> checked_round_up(T value, T unit) noexcept {
  STRATA_ASSERT(unit != 0);
  const T chunks = divide_round_up(value, unit);
  if (chunks > std::numeric_limits<T>::max() / unit) return std::nullopt;
  return chunks * unit;
}

// value rounded up to a multiple of unit (> 0), where the caller has bounded value so the result
// fits (an asserted precondition; use checked_round_up for sizes not yet checked).
template <std::unsigned_integral T>
constexpr T round_up(T value, T unit) noexcept {
  const auto rounded = checked_round_up(value, unit);
  STRATA_ASSERT(rounded.has_value());
  return rounded.value_or(std::numeric_limits<T>::max() / unit * unit);
}

}  // namespace strata
