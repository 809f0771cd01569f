// Reads /proc/self/smaps for an address range: what the kernel actually gave a mapping (page
// size, resident bytes, transparent huge pages), so regions report facts, not intentions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::detail {

struct SmapsRange {
  bool found = false;                  // some mapping overlaps the range
  std::uint64_t kernel_page_bytes = 0;  // KernelPageSize of the first mapping
  std::uint64_t rss_bytes = 0;
  std::uint64_t anon_huge_bytes = 0;  // AnonHugePages: THP-backed bytes
  std::uint64_t locked_bytes = 0;
  bool thp_advised = false;  // VmFlags has "hg" (MADV_HUGEPAGE)
};

// Sums the mappings overlapping [addr, addr + bytes) (mbind and madvise may split one region into
// several kernel mappings).
SmapsRange read_smaps(const void* addr, std::size_t bytes);

}  // namespace strata::detail
