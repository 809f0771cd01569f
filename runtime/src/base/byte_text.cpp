// SPDX-License-Identifier: Apache-2.0
// Byte counts as text, in powers of 1024.
#include "strata/runtime/base/byte_text.hpp"

#include <cstdio>

namespace strata {

std::string format_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 5) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[32];
  if (unit == 0) {
    std::snprintf(buffer, sizeof buffer, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buffer, sizeof buffer, "%.2f %s", value, units[unit]);
  }
  return buffer;
}

}  // namespace strata
