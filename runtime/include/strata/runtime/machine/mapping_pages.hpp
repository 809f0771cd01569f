// SPDX-License-Identifier: Apache-2.0
// What pages the kernel really gave a range of this process's memory, read from /proc/self/smaps:
// for a mapped file whether its page cache is mapped 2 MiB at a time (FilePmdMapped), for shared
// memory ShmemPmdMapped, for anonymous memory AnonHugePages — facts, not the advice that was given.
//
//   auto pages = strata::mapping_pages(view.data(), view.size());
//   if (pages.huge_bytes() == 0) log("no huge pages: " + pages.kind());
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace strata {

struct MappingPages {
  bool found = false;                   // some mapping overlaps the range
  std::uint64_t kernel_page_bytes = 0;  // KernelPageSize (2 MiB or 1 GiB for hugetlb)
  std::uint64_t rss_bytes = 0;          // resident now, of the whole mappings overlapping the range
  std::uint64_t anon_huge_bytes = 0;    // AnonHugePages
  std::uint64_t file_pmd_mapped_bytes = 0;   // FilePmdMapped
  std::uint64_t shmem_pmd_mapped_bytes = 0;  // ShmemPmdMapped
  std::uint64_t hugetlb_bytes = 0;           // Private_Hugetlb + Shared_Hugetlb
  bool thp_advised = false;                  // MADV_HUGEPAGE is set

  // Bytes mapped by huge pages of any kind (hugetlb pages count apart from Rss).
  std::uint64_t huge_bytes() const noexcept;
  // "hugetlb 1 GiB", "hugetlb 2 MiB", "2 MiB (THP) for N of M resident bytes", "4 KiB".
  std::string kind() const;
};

// Sums the mappings that overlap [addr, addr + bytes). Counts are the kernel's per mapping, so a
// range that covers part of a mapping reports the whole mapping.
MappingPages mapping_pages(const void* addr, std::size_t bytes);

}  // namespace strata
