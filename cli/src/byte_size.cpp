// SPDX-License-Identifier: Apache-2.0
// Byte sizes for the command line, in powers of 1024.
#include "byte_size.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "strata/runtime/base/error.hpp"

namespace strata::cli {

std::uint64_t parse_byte_size(std::string_view text) {
  auto fail = [&] {
    return Error(ErrorCategory::invalid_argument, "not a size (examples: 4096, 64K, 512M, 1.5G)",
                 {{"size", std::string(text)}});
  };
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data()) throw fail();
  // A decimal fraction ("1.5G"): up to 9 digits, exact in integers, applied after the unit.
  std::uint64_t fraction = 0;
  std::uint64_t fraction_scale = 1;
  const char* const end = text.data() + text.size();
  if (ptr != end && *ptr == '.') {
    ++ptr;
    const char* digits = ptr;
    while (ptr != end && *ptr >= '0' && *ptr <= '9' && ptr - digits < 9) {
      fraction = fraction * 10 + static_cast<std::uint64_t>(*ptr - '0');
      fraction_scale *= 10;
      ++ptr;
    }
    if (ptr == digits || (ptr != end && *ptr >= '0' && *ptr <= '9')) throw fail();
  }
  std::string_view unit(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  if (unit.ends_with("iB")) unit.remove_suffix(2);
  else if (unit.ends_with("B") && unit.size() > 1) unit.remove_suffix(1);
  else if (unit == "B") unit = {};
  int shift = 0;
  if (unit.empty()) shift = 0;
  else if (unit.size() == 1) {
    switch (std::toupper(static_cast<unsigned char>(unit[0]))) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      default: throw fail();
    }
  } else {
    throw fail();
  }
  if (shift > 0 && value > (UINT64_MAX >> shift)) throw fail();
  const std::uint64_t whole = value << shift;
  // fraction / fraction_scale of one unit, rounded down (a long double holds it exactly enough:
  // less than 2^40 bytes).
  const auto part = static_cast<std::uint64_t>(std::ldexp(
      static_cast<long double>(fraction) / static_cast<long double>(fraction_scale), shift));
  if (part > UINT64_MAX - whole) throw fail();
  return whole + part;
}

}  // namespace strata::cli
