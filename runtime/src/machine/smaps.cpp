// SPDX-License-Identifier: Apache-2.0
// /proc/self/smaps parser: header lines "start-end perms ..." open a mapping, "Key: N kB" lines
// describe it, "VmFlags:" closes it.
#include "machine/smaps.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace strata::detail {
namespace {

// A mapping's header starts with "start-end " in hex; key lines start with "Name:".
bool parse_header(const std::string& line, std::uintptr_t& start, std::uintptr_t& end) {
  std::size_t space = line.find(' ');
  std::size_t dash = line.find('-');
  if (space == std::string::npos || dash == std::string::npos || dash > space) return false;
  for (std::size_t i = 0; i < space; ++i) {
    if (i != dash && !std::isxdigit(static_cast<unsigned char>(line[i]))) return false;
  }
  start = std::stoull(line.substr(0, dash), nullptr, 16);
  end = std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16);
  return true;
}

}  // namespace

SmapsRange read_smaps(const void* addr, std::size_t bytes) {
  SmapsRange out;
  const auto first = reinterpret_cast<std::uintptr_t>(addr);
  const auto last = first + bytes;
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool inside = false;
  bool first_mapping = true;
  while (std::getline(in, line)) {
    std::uintptr_t start = 0, end = 0;
    if (parse_header(line, start, end)) {
      inside = start < last && end > first;
      if (inside) out.found = true;
      continue;
    }
    if (!inside) continue;
    auto value_kib = [&](const char* key) -> std::uint64_t {
      std::size_t n = std::strlen(key);
      if (line.compare(0, n, key) != 0 || line.size() <= n || line[n] != ':') return UINT64_MAX;
      return std::strtoull(line.c_str() + n + 1, nullptr, 10) * 1024;
    };
    if (auto v = value_kib("KernelPageSize"); v != UINT64_MAX) {
      if (first_mapping) out.kernel_page_bytes = v;
      first_mapping = false;
    } else if (auto rss = value_kib("Rss"); rss != UINT64_MAX) {
      out.rss_bytes += rss;
    } else if (auto huge = value_kib("AnonHugePages"); huge != UINT64_MAX) {
      out.anon_huge_bytes += huge;
    } else if (auto file_pmd = value_kib("FilePmdMapped"); file_pmd != UINT64_MAX) {
      out.file_pmd_mapped_bytes += file_pmd;
    } else if (auto shmem_pmd = value_kib("ShmemPmdMapped"); shmem_pmd != UINT64_MAX) {
      out.shmem_pmd_mapped_bytes += shmem_pmd;
    } else if (auto priv = value_kib("Private_Hugetlb"); priv != UINT64_MAX) {
      out.hugetlb_bytes += priv;
    } else if (auto shared = value_kib("Shared_Hugetlb"); shared != UINT64_MAX) {
      out.hugetlb_bytes += shared;
    } else if (auto locked = value_kib("Locked"); locked != UINT64_MAX) {
      out.locked_bytes += locked;
    } else if (line.rfind("VmFlags:", 0) == 0) {
      std::istringstream flags(line.substr(8));
      std::string flag;
      while (flags >> flag) {
        if (flag == "hg") out.thp_advised = true;
      }
    }
  }
  return out;
}

namespace {

// struct procmap_query of <linux/fs.h> (Linux 6.11); Debian 12's kernel headers predate it.
struct ProcmapQuery {
  std::uint64_t size;
  std::uint64_t query_flags;
  std::uint64_t query_addr;
  std::uint64_t vma_start;
  std::uint64_t vma_end;
  std::uint64_t vma_flags;
  std::uint64_t vma_page_size;
  std::uint64_t vma_offset;
  std::uint64_t inode;
  std::uint32_t dev_major;
  std::uint32_t dev_minor;
  std::uint32_t vma_name_size;
  std::uint32_t build_id_size;
  std::uint64_t vma_name_addr;
  std::uint64_t build_id_addr;
};
static_assert(sizeof(ProcmapQuery) == 104);
constexpr unsigned long kProcmapQuery = 0xC0686611;  // _IOWR('f', 17, struct procmap_query)

}  // namespace

MappingFacts query_mapping(const void* addr, std::size_t bytes) {
  static const int maps_fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (maps_fd >= 0) {
    ProcmapQuery q{};
    q.size = sizeof q;
    q.query_addr = reinterpret_cast<std::uintptr_t>(addr);
    if (::ioctl(maps_fd, kProcmapQuery, &q) == 0) {
      return MappingFacts{q.vma_page_size, false, false};
    }
  }
  SmapsRange r = read_smaps(addr, bytes);
  return MappingFacts{r.kernel_page_bytes, r.thp_advised, true};
}

}  // namespace strata::detail
