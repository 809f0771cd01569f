// SPDX-License-Identifier: Apache-2.0
// The name of the file system holding a path, from statfs, for a suite's report: fdatasync on a
// tmpfs costs nothing, which would make every durable write look as fast as a copy.
#pragma once

#include <sys/vfs.h>

#include <cstdio>
#include <string>

namespace strata::bench {

inline std::string file_system_of(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return "unknown";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53UL:
      return "ext4";
    case 0x58465342UL:
      return "xfs";
    case 0x9123683EUL:
      return "btrfs";
    case 0x01021994UL:
      return "tmpfs";
    case 0x794C7630UL:
      return "overlayfs";
    case 0x6969UL:
      return "nfs";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(fs.f_type));
      return std::string("statfs type ") + hex;
    }
  }
}

}  // namespace strata::bench
