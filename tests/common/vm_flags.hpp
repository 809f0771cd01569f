// SPDX-License-Identifier: Apache-2.0
// Test helper: the kernel's VmFlags of the mapping that holds an address (/proc/self/smaps), e.g.
// "hg" once it is advised for transparent huge pages, so a test checks what the kernel recorded
// rather than what the code under test says it asked for.
#pragma once

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace strata::test {

// The VmFlags line's flags ("rd mr mw me hg ..."), space separated; empty when no mapping holds
// `addr` or the kernel shows no VmFlags.
inline std::string vm_flags(const void* addr) {
  const auto target = reinterpret_cast<std::uintptr_t>(addr);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long long begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx ", &begin, &end) == 2) {  // a mapping's first line
      inside = begin <= target && target < end;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) {
      std::string flags(1, ' ');  // padded, so " hg " finds the flag whole
      flags.append(line, 8, std::string::npos);
      flags.push_back(' ');
      return flags;
    }
  }
  return "";
}

// True when the mapping holding `addr` carries the flag (two letters, as smaps shows it).
inline bool has_vm_flag(const void* addr, const std::string& flag) {
  return vm_flags(addr).find(" " + flag + " ") != std::string::npos;
}

}  // namespace strata::test
