// SPDX-License-Identifier: Apache-2.0
// Allocating a region of exactly one page kind for a memory-suite case, and checking afterwards
// that the kernel backed it with that kind: a silent fallback must never be measured as huge pages.
#include "page_kinds.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "memory_settings.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/machine/huge_pages.hpp"

namespace strata::bench::memory {
namespace {

constexpr std::uint64_t two_mib = std::uint64_t{2} << 20;

// The start of a skip message: "no 2 MiB pages: " is what the report shows when the pool is empty.
std::string refusal_prefix(PageSize kind) {
  switch (kind) {
    case PageSize::base:
      return "no 4 KiB pages: ";
    case PageSize::transparent:
      return "no transparent huge pages: ";
    case PageSize::huge_2m:
      return "no 2 MiB pages: ";
    case PageSize::huge_1g:
      return "no 1 GiB pages: ";
  }
  return "no pages: ";
}

std::string mib(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// What is wrong with the region's pages for `kind`, or an empty string when nothing is.
std::string page_mismatch(const PlacedRegion& region, PageSize kind) {
  if (region.page_size() != kind) {
    return "asked for " + std::string(to_string(kind)) + " pages, the region has " +
           std::string(to_string(region.page_size()));
  }
  const PageReport report = region.page_report();
  switch (kind) {
    case PageSize::base:
      if (report.kernel_page_bytes != base_page_bytes() || report.transparent_huge_bytes != 0) {
        return "4 KiB case got other pages: kernel page " +
               std::to_string(report.kernel_page_bytes) + " bytes, " +
               mib(report.transparent_huge_bytes) + " in transparent huge pages";
      }
      return {};
    case PageSize::huge_2m:
      if (report.kernel_page_bytes != two_mib) {
        return "2 MiB case got kernel pages of " + std::to_string(report.kernel_page_bytes) +
               " bytes";
      }
      return {};
    case PageSize::transparent:
      // The kernel may fall back to 4 KiB page by page (fragmentation, the defrag setting); a
      // region mostly in 4 KiB pages would be measured as THP, so nine tenths must be huge.
      if (!report.transparent_advised ||
          report.transparent_huge_bytes < region.mapped_bytes() / 10 * 9) {
        return "THP not applied: " + mib(report.transparent_huge_bytes) + " of " +
               mib(region.mapped_bytes()) + " in transparent huge pages" +
               (report.transparent_advised ? "" : ", MADV_HUGEPAGE not set");
      }
      return {};
    case PageSize::huge_1g:
      return "the memory suite does not measure 1 GiB pages";
  }
  return "unknown page kind";
}

}  // namespace

PlacedRegion allocate_pages(benchmark::State& state, std::size_t bytes, PageSize kind) {
  try {
    PlacedRegion region = PlacedRegion::allocate(suite_topology(), bytes,
                                                 {.placement = Placement::local(),
                                                  .largest_pages = kind,
                                                  .allow_fallback = false,
                                                  .populate = false});
    // Under THP mode "always" the kernel would give this plain mapping transparent huge pages on
    // first touch; the 4 KiB cases must have 4 KiB pages whatever the machine's mode.
    if (kind == PageSize::base &&
        ::madvise(region.data(), region.mapped_bytes(), MADV_NOHUGEPAGE) != 0) {
      state.SkipWithError(
          (refusal_prefix(kind) + "madvise(MADV_NOHUGEPAGE) failed: " + std::strerror(errno))
              .c_str());
      return {};
    }
    return region;
  } catch (const Error& e) {
    state.SkipWithError((refusal_prefix(kind) + e.what()).c_str());
    return {};
  }
}

bool pages_are(benchmark::State& state, const PlacedRegion& region, PageSize kind) {
  const std::string mismatch = page_mismatch(region, kind);
  if (mismatch.empty()) return true;
  state.SkipWithError(mismatch.c_str());
  return false;
}

}  // namespace strata::bench::memory
