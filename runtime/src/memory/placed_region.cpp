// SPDX-License-Identifier: Apache-2.0
// PlacedRegion: mmap with the page-size fallback chain, placement through hwloc, populate, mlock,
// and read-back of what the kernel really did. Every refusal on the way is recorded, not hidden.
#include "strata/runtime/base/round_up.hpp"
#include "strata/runtime/memory/placed_region.hpp"

#include <fcntl.h>
#include <hwloc.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "machine/hwloc_placement.hpp"
#include "machine/smaps.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"
#include "strata/runtime/machine/huge_pages.hpp"
#include "strata/runtime/machine/memory_availability.hpp"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace strata {
namespace {

constexpr std::size_t kTwoMiB = std::size_t{2} << 20;
constexpr std::size_t kOneGiB = std::size_t{1} << 30;

std::string mib(std::size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// Rounds up to a multiple of `page`, or throws when that overflows.
std::size_t round_up_to_pages(std::size_t bytes, std::size_t page) {
  if (auto len = checked_round_up(bytes, page)) return *len;
  throw Error(ErrorCategory::invalid_argument, "region size overflows when rounded to pages",
              {{"bytes", std::to_string(bytes)}});
}

struct Mapping {
  void* addr = MAP_FAILED;
  std::size_t bytes = 0;
};

Mapping map_hugetlb(std::size_t bytes, std::size_t page, std::string& why_not) {
  std::size_t len = round_up_to_pages(bytes, page);
  int log2 = __builtin_ctzll(page);
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (log2 << MAP_HUGE_SHIFT), -1, 0);
  if (p != MAP_FAILED) return {p, len};
  int err = errno;
  std::uint64_t free_pages = 0, total_pages = 0;
  bool offered = false;
  for (const auto& hp : huge_page_sizes()) {
    if (hp.page_bytes == page) {
      offered = true;
      free_pages = hp.free_pages - std::min(hp.free_pages, hp.reserved_pages);
      total_pages = hp.total_pages;
    }
  }
  if (!offered) {
    why_not = "the kernel offers no " + mib(page) + " hugetlb pages";
  } else {
    why_not = "needs " + std::to_string(len / page) + " free " + mib(page) + " pages, " +
              std::to_string(free_pages) + " of " + std::to_string(total_pages) +
              " are free (" + std::strerror(err) + ")";
  }
  return {};
}

// Anonymous memory aligned to 2 MiB, advised for transparent huge pages.
Mapping map_transparent(std::size_t bytes, std::string& why_not) {
  ThpMode mode = transparent_huge_page_mode();
  if (mode == ThpMode::never || mode == ThpMode::unavailable) {
    why_not = "transparent huge pages are " + std::string(to_string(mode));
    return {};
  }
  std::size_t len = round_up_to_pages(bytes, kTwoMiB);
  std::size_t over = len + kTwoMiB;
  void* raw = ::mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    why_not = std::string("mmap failed: ") + std::strerror(errno);
    return {};
  }
  auto base = reinterpret_cast<std::uintptr_t>(raw);
  std::uintptr_t aligned = (base + kTwoMiB - 1) & ~(kTwoMiB - 1);
  if (aligned > base) ::munmap(raw, aligned - base);
  std::uintptr_t tail = aligned + len;
  if (base + over > tail) ::munmap(reinterpret_cast<void*>(tail), base + over - tail);
  void* p = reinterpret_cast<void*>(aligned);
  if (::madvise(p, len, MADV_HUGEPAGE) != 0) {
    why_not = std::string("madvise(MADV_HUGEPAGE) failed: ") + std::strerror(errno);
    ::munmap(p, len);
    return {};
  }
  return {p, len};
}

Mapping map_base(std::size_t bytes) {
  std::size_t len = round_up_to_pages(bytes, base_page_bytes());
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    throw_errno(ErrorCategory::resource, "mmap refused", errno, {{"bytes", std::to_string(len)}});
  }
  return {p, len};
}

// Refuses a request that would exceed what the machine (or the job's cgroup) has left.
void check_available(std::size_t bytes) {
  MemoryAvailability avail = read_memory_availability();
  if (avail.mem_total_bytes == 0) return;  // no /proc: nothing to judge by
  std::uint64_t room = avail.available_bytes();
  if (bytes > room) {
    std::vector<ErrorContext> context{{"requested_bytes", std::to_string(bytes)},
                                      {"available_bytes", std::to_string(room)}};
    if (avail.cgroup_limit_bytes) context.push_back({"cgroup", avail.cgroup_path});
    throw Error(ErrorCategory::resource,
                "allocation refused: it exceeds the memory available to this process", context);
  }
}

// Under pressure means: after this allocation less than a tenth of the memory would be left.
bool under_pressure(std::size_t bytes) {
  MemoryAvailability avail = read_memory_availability();
  const std::uint64_t limit = avail.limit_bytes();
  std::uint64_t room = avail.available_bytes();
  return room < bytes || room - bytes < limit / 10;
}

using detail::apply_placement;
using detail::Nodeset;
using detail::validate_nodes;

void fault_in_pages(std::byte* data, std::size_t len, std::size_t page) {
  if (::madvise(data, len, MADV_POPULATE_WRITE) == 0) return;
  int err = errno;
  if (err != EINVAL) {
    throw_errno(ErrorCategory::resource, "cannot populate region", err, {{"bytes", std::to_string(len)}});
  }
  // Kernels before 5.14: touch one byte per page.
  for (std::size_t off = 0; off < len; off += page) {
    reinterpret_cast<volatile std::byte*>(data)[off] = std::byte{0};
  }
}

void lock_region(void* data, std::size_t len) {
  // The system call itself, not glibc's mlock: sanitizers intercept mlock and silently do nothing,
  // which would make a locked region a lie in exactly the builds that check us.
  if (::syscall(SYS_mlock, data, len) == 0) return;
  int err = errno;
  rlimit limit{};
  ::getrlimit(RLIMIT_MEMLOCK, &limit);
  std::string limit_text =
      limit.rlim_cur == RLIM_INFINITY ? "unlimited" : std::to_string(limit.rlim_cur) + " bytes";
  throw Error(ErrorCategory::resource,
              "mlock refused (" + std::string(std::strerror(err)) + "): RLIMIT_MEMLOCK is " +
                  limit_text + "; raise it with `ulimit -l` or Slurm's PropagateResourceLimits",
              {{"bytes", std::to_string(len)}, {"RLIMIT_MEMLOCK", limit_text}});
}

}  // namespace

std::string_view to_string(PageSize size) noexcept {
  switch (size) {
    case PageSize::base: return "base";
    case PageSize::transparent: return "transparent";
    case PageSize::huge_2m: return "huge_2m";
    case PageSize::huge_1g: return "huge_1g";
  }
  return "unknown";
}

std::size_t page_bytes(PageSize size) noexcept {
  switch (size) {
    case PageSize::base: return base_page_bytes();
    case PageSize::transparent: return kTwoMiB;
    case PageSize::huge_2m: return kTwoMiB;
    case PageSize::huge_1g: return kOneGiB;
  }
  return base_page_bytes();
}

PlacedRegion PlacedRegion::allocate(const Topology& topology, std::size_t bytes,
                                    RegionOptions options) {
  if (bytes == 0) {
    throw Error(ErrorCategory::invalid_argument, "a placed region needs at least one byte");
  }
  round_up_to_pages(bytes, kOneGiB);  // throws invalid_argument when the size cannot be rounded to pages
  validate_nodes(topology, options.placement);
  PlacedRegion r;
  r.topology_ = &topology;
  r.size_ = bytes;
  r.placement_ = options.placement;
  Mapping m;
  bool thp_requested = false;

  if (!options.file.empty()) {
    r.file_ = options.file;
    r.fd_ = ::open(options.file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (r.fd_ < 0) {
      throw_errno("cannot open region file", errno, {{"file", options.file}});
    }
    struct statfs fs {};
    std::size_t page = base_page_bytes();
    if (::fstatfs(r.fd_, &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC) {
      page = static_cast<std::size_t>(fs.f_bsize);
    }
    std::size_t len = round_up_to_pages(bytes, page);
    if (page == base_page_bytes()) {
      if (int err = ::posix_fallocate(r.fd_, 0, static_cast<off_t>(len)); err != 0) {
        throw_errno("cannot allocate the region file's blocks", err, {{"file", options.file}, {"bytes", std::to_string(len)}});
      }
    } else if (::ftruncate(r.fd_, static_cast<off_t>(len)) != 0) {
      throw_errno(ErrorCategory::resource, "cannot size the hugetlbfs file", errno, {{"file", options.file}, {"bytes", std::to_string(len)}});
    }
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd_, 0);
    if (p == MAP_FAILED) {
      throw_errno(ErrorCategory::resource, "cannot map region file", errno, {{"file", options.file}});
    }
    m = {p, len};
  } else {
    // The fallback chain, from the largest size asked for down to base pages.
    for (PageSize size : {PageSize::huge_1g, PageSize::huge_2m, PageSize::transparent}) {
      if (size > options.largest_pages || m.addr != MAP_FAILED) continue;
      std::string why_not;
      if (bytes < page_bytes(size)) {
        why_not = "region is smaller than one page";
      } else if (size == PageSize::transparent) {
        check_available(bytes);
        m = map_transparent(bytes, why_not);
        thp_requested = m.addr != MAP_FAILED;
      } else {
        m = map_hugetlb(bytes, page_bytes(size), why_not);
      }
      if (m.addr == MAP_FAILED) {
        r.fallbacks_.push_back(std::string(to_string(size)) + ": " + why_not);
        if (!options.allow_fallback && size == options.largest_pages) {
          throw Error(ErrorCategory::resource,
                      "cannot get " + std::string(to_string(size)) + " pages: " + why_not,
                      {{"bytes", std::to_string(bytes)}});
        }
      }
    }
    if (m.addr == MAP_FAILED) {
      check_available(bytes);
      m = map_base(bytes);
    }
  }
  r.data_ = static_cast<std::byte*>(m.addr);
  r.mapped_ = m.bytes;

  // Read back what the kernel gave. THP advice is visible only in smaps; where the fast query is
  // used, a successful madvise(MADV_HUGEPAGE) is the kernel's word for it.
  detail::MappingFacts facts = detail::query_mapping(r.data_, r.mapped_);
  const bool advised = facts.thp_known ? facts.thp_advised : thp_requested;
  if (facts.kernel_page_bytes == kOneGiB) {
    r.page_size_ = PageSize::huge_1g;
  } else if (facts.kernel_page_bytes == kTwoMiB) {
    r.page_size_ = PageSize::huge_2m;
  } else if (advised) {
    r.page_size_ = PageSize::transparent;
  } else {
    r.page_size_ = PageSize::base;
  }

  r.placement_applied_ =
      detail::apply_placement_if_real(topology, r.data_, r.mapped_, r.placement_);

  if (options.populate) r.populate();
  if (options.lock) r.lock();
  return r;
}

PlacedRegion::PlacedRegion(PlacedRegion&& other) noexcept { *this = std::move(other); }

PlacedRegion& PlacedRegion::operator=(PlacedRegion&& other) noexcept {
  if (this != &other) {
    release();
    topology_ = std::exchange(other.topology_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
    page_size_ = other.page_size_;
    fallbacks_ = std::move(other.fallbacks_);
    placement_ = other.placement_;
    placement_applied_ = other.placement_applied_;
    populated_ = other.populated_;
    locked_ = other.locked_;
    file_ = std::move(other.file_);
    fd_ = std::exchange(other.fd_, -1);
    charge_ = std::move(other.charge_);
  }
  return *this;
}

PlacedRegion::~PlacedRegion() { release(); }

void PlacedRegion::release() noexcept {
  if (data_ != nullptr) ::munmap(data_, mapped_);
  if (fd_ >= 0) ::close(fd_);
  charge_ = MemoryCharge();
  data_ = nullptr;
  fd_ = -1;
}

Residency PlacedRegion::residency(std::size_t samples) const {
  Residency out;
  if (data_ == nullptr || topology_ == nullptr || !topology_->is_this_system()) return out;
  auto* handle = static_cast<hwloc_topology_t>(topology_->native_handle());
  out.known = true;
  out.pages_per_node.assign(topology_->numa_nodes().size(), 0);
  std::size_t page = page_bytes(page_size_ == PageSize::transparent ? PageSize::base : page_size_);
  std::size_t pages = mapped_ / page;
  samples = std::max<std::size_t>(1, std::min(samples, pages));
  Nodeset set;
  for (std::size_t i = 0; i < samples; ++i) {
    std::size_t offset = (pages * i / samples) * page;
    ++out.sampled;
    if (hwloc_get_area_memlocation(handle, data_ + offset, 1, set.map, HWLOC_MEMBIND_BYNODESET) != 0 ||
        hwloc_bitmap_iszero(set.map)) {
      ++out.not_present;
      continue;
    }
    int os = hwloc_bitmap_first(set.map);
    bool matched = false;
    for (const auto& n : topology_->numa_nodes()) {
      if (static_cast<int>(n.os_index) == os) {
        ++out.pages_per_node[n.index];
        matched = true;
      }
    }
    if (!matched) ++out.not_present;
  }
  return out;
}

bool PlacedRegion::populate() {
  if (data_ == nullptr) return false;
  bool hugetlb = page_size_ == PageSize::huge_1g || page_size_ == PageSize::huge_2m;
  if (!hugetlb && fd_ < 0 && under_pressure(mapped_)) {
    log::warn("populate skipped: memory is under pressure (" + mib(mapped_) + " requested)");
    return false;
  }
  fault_in_pages(data_, mapped_, page_bytes(page_size_));
  populated_ = true;
  return true;
}

void PlacedRegion::lock() {
  if (data_ == nullptr || locked_) return;
  lock_region(data_, mapped_);
  locked_ = true;
}

void PlacedRegion::place(std::size_t offset, std::size_t bytes, const Placement& placement) {
  if (data_ == nullptr || bytes == 0) return;
  validate_nodes(*topology_, placement);
  if (!topology_->is_this_system()) return;
  std::size_t page = page_bytes(page_size_ == PageSize::transparent ? PageSize::huge_2m : page_size_);
  std::size_t first = std::min(round_up_to_pages(offset, page), mapped_);
  std::size_t last = std::min(round_up_to_pages(offset + bytes, page), mapped_);
  if (last > first) apply_placement(*topology_, data_ + first, last - first, placement, 0);
  placement_applied_ = true;
}

void PlacedRegion::migrate(unsigned node) {
  if (topology_ == nullptr) throw Error(ErrorCategory::invalid_argument, "migrate of an empty region");
  Placement target = Placement::bind(node);
  validate_nodes(*topology_, target);
  if (topology_->is_this_system()) {
    apply_placement(*topology_, data_, mapped_, target, HWLOC_MEMBIND_MIGRATE);
    placement_applied_ = true;
  }
  placement_ = target;
}

PageReport PlacedRegion::page_report() const {
  PageReport out;
  if (data_ == nullptr) return out;
  detail::SmapsRange facts = detail::read_smaps(data_, mapped_);
  out.kernel_page_bytes = facts.kernel_page_bytes;
  // Resident bytes of exactly this range: smaps counts whole kernel mappings, and the kernel
  // merges an anonymous mapping with a like neighbour, whose pages would then count as ours.
  const std::size_t base = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> present((mapped_ + base - 1) / base);
  if (::mincore(data_, mapped_, present.data()) == 0) {
    std::uint64_t pages = 0;
    for (unsigned char p : present) pages += p & 1u;
    out.resident_bytes = pages * base;
  } else {
    out.resident_bytes = facts.rss_bytes;
  }
  out.transparent_huge_bytes = facts.anon_huge_bytes;
  out.locked_bytes = facts.locked_bytes;
  out.transparent_advised = facts.thp_advised;
  return out;
}

}  // namespace strata
