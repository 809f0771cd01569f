// SPDX-License-Identifier: Apache-2.0
// mapping_pages: the smaps facts of a range, and a one-phrase summary of the page kind they show.
#include "strata/runtime/machine/mapping_pages.hpp"

#include <cstdio>

#include "machine/smaps.hpp"

namespace strata {
namespace {

std::string mib_text(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

std::uint64_t MappingPages::huge_bytes() const noexcept {
  if (kernel_page_bytes > (std::uint64_t{4} << 10)) return hugetlb_bytes;
  return anon_huge_bytes + file_pmd_mapped_bytes + shmem_pmd_mapped_bytes;
}

std::string MappingPages::kind() const {
  if (!found) return "unmapped";
  if (kernel_page_bytes >= (std::uint64_t{1} << 30)) return "hugetlb 1 GiB";
  if (kernel_page_bytes >= (std::uint64_t{2} << 20)) return "hugetlb 2 MiB";
  const std::uint64_t huge = huge_bytes();
  if (huge == 0) return "4 KiB";
  return "2 MiB (THP) for " + mib_text(huge) + " of " + mib_text(rss_bytes) + " resident";
}

MappingPages mapping_pages(const void* addr, std::size_t bytes) {
  const detail::SmapsRange r = detail::read_smaps(addr, bytes);
  MappingPages out;
  out.found = r.found;
  out.kernel_page_bytes = r.kernel_page_bytes;
  out.rss_bytes = r.rss_bytes;
  out.anon_huge_bytes = r.anon_huge_bytes;
  out.file_pmd_mapped_bytes = r.file_pmd_mapped_bytes;
  out.shmem_pmd_mapped_bytes = r.shmem_pmd_mapped_bytes;
  out.hugetlb_bytes = r.hugetlb_bytes;
  out.thp_advised = r.thp_advised;
  return out;
}

}  // namespace strata
