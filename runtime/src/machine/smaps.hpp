// SPDX-License-Identifier: Apache-2.0
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
  std::uint64_t file_pmd_mapped_bytes = 0;   // FilePmdMapped: page cache mapped 2 MiB at a time
  std::uint64_t shmem_pmd_mapped_bytes = 0;  // ShmemPmdMapped: shared memory mapped 2 MiB at a time
  std::uint64_t hugetlb_bytes = 0;  // Private_Hugetlb + Shared_Hugetlb (hugetlb is not in Rss)
  std::uint64_t locked_bytes = 0;
  bool thp_advised = false;  // VmFlags has "hg" (MADV_HUGEPAGE)
};

// Sums the mappings overlapping [addr, addr + bytes) (mbind and madvise may split one region into
// several kernel mappings).
SmapsRange read_smaps(const void* addr, std::size_t bytes);

// What the kernel says about the one mapping holding `addr`: its page size, and whether it is
// advised for transparent huge pages. Uses the PROCMAP_QUERY ioctl (Linux 6.11+), which asks about
// one mapping in microseconds, and falls back to read_smaps() — which formats every mapping of
// the process — on older kernels.
struct MappingFacts {
  std::uint64_t kernel_page_bytes = 0;
  bool thp_advised = false;
  bool thp_known = false;  // false when the fast path cannot see VmFlags (THP advice taken on trust)
};
MappingFacts query_mapping(const void* addr, std::size_t bytes);

}  // namespace strata::detail
