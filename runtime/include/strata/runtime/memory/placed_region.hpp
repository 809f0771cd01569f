// SPDX-License-Identifier: Apache-2.0
// PlacedRegion: a page-aligned block of memory with a NUMA placement and the largest pages the
// machine will give, owned RAII-style. Huge pages follow an honest fallback chain — 1 GiB
// hugetlb, 2 MiB hugetlb, transparent huge pages, 4 KiB — and the region records what it really
// got, read back from the kernel (/proc/self/smaps), along with why each larger size was refused.
//
//   auto r = strata::PlacedRegion::allocate(topo, 8 << 30,
//                                           {.placement = strata::Placement::bind(0), .populate = true});
//   if (r.page_size() != strata::PageSize::huge_1g) log(r.fallbacks());
//
// On a synthetic topology the placement cannot be real: the memory is allocated plainly,
// placement_applied() is false, and the log says so once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/runtime/machine/topology.hpp"
#include "strata/runtime/memory/memory_statistics.hpp"
#include "strata/runtime/memory/placement.hpp"

namespace strata {

// Kinds of pages, smallest first.
enum class PageSize { base, transparent, huge_2m, huge_1g };
std::string_view to_string(PageSize size) noexcept;
// Bytes of one page of that kind (transparent: 2 MiB).
std::size_t page_bytes(PageSize size) noexcept;

struct RegionOptions {
  Placement placement = Placement::local();
  // Where the fallback chain starts. A size is only tried for regions of at least one such page.
  PageSize largest_pages = PageSize::huge_1g;
  // When false, failing to get `largest_pages` throws Error(resource) instead of falling back.
  bool allow_fallback = true;
  // Fault every page in now (MADV_POPULATE_WRITE), so first use pays no page faults.
  bool populate = false;
  // mlock the region; refused with Error(resource) naming RLIMIT_MEMLOCK when over the limit.
  bool lock = false;
  // File-backed (MAP_SHARED) instead of anonymous when non-empty. The file is created 0600 if
  // missing and its blocks are allocated up front, so a full disk is an error now, not a SIGBUS
  // later. On hugetlbfs the file gives hugetlb pages.
  std::string file;
};

// Where sampled pages of a region are: pages per logical NUMA node, and pages not yet faulted.
struct Residency {
  bool known = false;  // false when the topology is not this system (nothing to ask)
  std::vector<std::size_t> pages_per_node;
  std::size_t not_present = 0;
  std::size_t sampled = 0;
};

// What the kernel reports for the region now (it changes as pages are touched).
struct PageReport {
  std::uint64_t kernel_page_bytes = 0;  // 4096, 2 MiB or 1 GiB
  std::uint64_t resident_bytes = 0;  // of this region exactly (mincore)
  std::uint64_t transparent_huge_bytes = 0;  // THP-backed bytes (AnonHugePages)
  std::uint64_t locked_bytes = 0;
  bool transparent_advised = false;  // MADV_HUGEPAGE is set on the mapping
};

class PlacedRegion {
 public:
  // Allocates `bytes` (> 0). Throws Error(invalid_argument) for zero or overflowing sizes and
  // unknown nodes, Error(resource) when memory, huge pages or locked memory are refused,
  // Error(io) for file problems.
  static PlacedRegion allocate(const Topology& topology, std::size_t bytes,
                               RegionOptions options = {});

  PlacedRegion() = default;
  PlacedRegion(PlacedRegion&& other) noexcept;
  PlacedRegion& operator=(PlacedRegion&& other) noexcept;
  PlacedRegion(const PlacedRegion&) = delete;
  PlacedRegion& operator=(const PlacedRegion&) = delete;
  ~PlacedRegion();

  std::byte* data() const& noexcept { return data_; }
  std::byte* data() const&& = delete;  // a temporary region unmaps its memory
  // The bytes asked for; mapped_bytes() is that rounded up to whole pages.
  std::size_t size() const noexcept { return size_; }
  std::size_t mapped_bytes() const noexcept { return mapped_; }
  bool empty() const noexcept { return data_ == nullptr; }

  // The page size the kernel actually backs this region with (checked in /proc/self/smaps).
  PageSize page_size() const noexcept { return page_size_; }
  // One line per larger page size that was tried and refused, with the reason.
  const std::vector<std::string>& fallbacks() const noexcept { return fallbacks_; }
  const Placement& placement() const noexcept { return placement_; }
  // False when the placement could not be applied (synthetic topology).
  bool placement_applied() const noexcept { return placement_applied_; }
  bool populated() const noexcept { return populated_; }
  bool locked() const noexcept { return locked_; }
  const std::string& file() const noexcept { return file_; }

  // Samples up to `samples` pages evenly over the region and asks the kernel where each one is.
  Residency residency(std::size_t samples = 64) const;
  // Moves the region's pages to `node` and binds it there. Error(invalid_argument) for an unknown
  // node, Error(system) when the kernel cannot move them. No-op placement on synthetic topologies.
  void migrate(unsigned node);
  // Places part of the region before it is touched (an array's per-node blocks). The range is
  // widened to whole pages of the region's page size; a page straddling two parts goes to the
  // earlier one. No-op on synthetic topologies.
  void place(std::size_t offset, std::size_t bytes, const Placement& placement);
  // Faults every page in now, honouring the placement (skipped, with a warning, under memory
  // pressure for pages that are not hugetlb). Returns whether it populated.
  bool populate();
  // mlocks the region (see RegionOptions::lock).
  void lock();
  PageReport page_report() const;
  // Attaches the statistics charge that is returned when the region is freed.
  void set_charge(MemoryCharge charge) noexcept { charge_ = std::move(charge); }

 private:
  void release() noexcept;

  const Topology* topology_ = nullptr;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t mapped_ = 0;
  PageSize page_size_ = PageSize::base;
  std::vector<std::string> fallbacks_;
  Placement placement_ = Placement::local();
  bool placement_applied_ = false;
  bool populated_ = false;
  bool locked_ = false;
  std::string file_;
  int fd_ = -1;
  MemoryCharge charge_;
};

}  // namespace strata
