// SPDX-License-Identifier: Apache-2.0
// Byte sizes for the command line, in powers of 1024.
#include "byte_size.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>

#include "strata/runtime/base/error.hpp"

namespace strata::cli {

std::uint64_t parse_byte_size(std::string_view text) {
  auto fail = [&] {
    return Error(ErrorCategory::invalid_argument,
                 "not a size (examples: 4096, 64K, 512M, 8G)", {{"size", std::string(text)}});
  };
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data()) throw fail();
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
  return value << shift;
}

std::string format_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 5) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[32];
  if (unit == 0) std::snprintf(buffer, sizeof buffer, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buffer, sizeof buffer, "%.2f %s", value, units[unit]);
  return buffer;
}

}  // namespace strata::cli
