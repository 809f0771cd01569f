// SPDX-License-Identifier: Apache-2.0
// What the kernel offers in huge pages: each hugetlb page size with its pool counts (from
// /sys/kernel/mm/hugepages) and the transparent-huge-page mode. The placed-memory layer walks its
// fallback chain (1 GiB -> 2 MiB -> THP -> 4 KiB) from this, and `strata info` shows it.
//
//   for (const auto& hp : strata::huge_page_sizes()) if (hp.free_pages > 0) ...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

struct HugePageSize {
  std::uint64_t page_bytes = 0;
  std::uint64_t total_pages = 0;     // nr_hugepages: the reserved pool
  std::uint64_t free_pages = 0;      // free_hugepages
  std::uint64_t reserved_pages = 0;  // resv_hugepages: promised to mappings, not yet faulted
  std::uint64_t surplus_pages = 0;   // surplus_hugepages
  std::uint64_t overcommit_pages = 0;  // nr_overcommit_hugepages
};

// Every hugetlb page size the kernel supports, smallest first; empty without hugetlbfs support.
// `sysfs_root` exists for tests; the default is the real /sys/kernel/mm/hugepages.
std::vector<HugePageSize> huge_page_sizes(const std::string& sysfs_root = "/sys/kernel/mm/hugepages");

enum class ThpMode { always, madvise, never, unavailable };
std::string_view to_string(ThpMode mode) noexcept;

// The bracketed choice of /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never").
ThpMode transparent_huge_page_mode(
    const std::string& enabled_file = "/sys/kernel/mm/transparent_hugepage/enabled");

// Parses the text of that file; unavailable when no choice is bracketed.
ThpMode parse_thp_mode(std::string_view text) noexcept;

// The base page size (4 KiB on x86-64).
std::uint64_t base_page_bytes() noexcept;

}  // namespace strata
