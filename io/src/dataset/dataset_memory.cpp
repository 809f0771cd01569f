// SPDX-License-Identifier: Apache-2.0
// load(): the automatic choice (from every rank's sizes and the memory available, so all ranks
// agree), the resident load (load_resident with the partition's verifying read), the node-shared
// segment (created by one rank of the node, filled by all, unlinked once all have attached, so a
// killed rank leaves no name behind), and the mapped path's MADV_COLLAPSE and smaps report.
#include "strata/io/dataset/dataset_memory.hpp"

#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "strata/runtime/files/shared_segment.hpp"
#include "strata/runtime/machine/huge_pages.hpp"
#include "strata/runtime/machine/mapping_pages.hpp"
#include "strata/runtime/machine/memory_availability.hpp"
#include "strata/runtime/memory/placement_plan.hpp"
#include "strata/scheduler/resident.hpp"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

namespace strata::io {
namespace {

using Clock = std::chrono::steady_clock;

// Data is loaded only when it leaves this share of the available memory to everything else.
constexpr double kFitShare = 0.8;

std::string gib_text(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
  return text;
}

// What each rank tells the others before anything is loaded.
struct RankFacts {
  int node = 0;
  std::uint64_t first_row = 0;
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
  std::uint64_t available = 0;
  std::int64_t pid = 0;
  bool has_mapping = false;
  std::array<char, 200> hugetlbfs{};  // the node leader's choice is the node's
};

// A hugetlbfs mount this user can write whose free pages hold `bytes`, or "".
std::string usable_hugetlbfs(std::uint64_t bytes) {
  std::ifstream mounts("/proc/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string device, dir, type;
    fields >> device >> dir >> type;
    if (type != "hugetlbfs" || dir.size() >= sizeof(RankFacts::hugetlbfs) ||
        ::access(dir.c_str(), W_OK) != 0) {
      continue;
    }
    struct statfs fs {};
    if (::statfs(dir.c_str(), &fs) != 0 || fs.f_bsize <= 0) continue;
    const auto page = static_cast<std::uint64_t>(fs.f_bsize);
    for (const HugePageSize& size : huge_page_sizes()) {
      // The segment's header takes one page more.
      if (size.page_bytes == page && size.free_pages * page >= bytes + 2 * page) return dir;
    }
  }
  return {};
}

// The bracketed word of /sys/kernel/mm/transparent_hugepage/shmem_enabled, or "unavailable".
std::string shmem_thp_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto open = text.find('['), close = text.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return "unavailable";
  return text.substr(open + 1, close - open - 1);
}

std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

DataMemory choose(const std::vector<RankFacts>& all, int my_node, std::string& reason) {
  std::uint64_t available = UINT64_MAX;
  bool every_mapping = true;
  for (const RankFacts& f : all) {
    available = std::min(available, f.available);
    every_mapping = every_mapping && f.has_mapping;
  }
  if (!every_mapping) {
    reason = "auto: HDF5 rows are read into memory already";
    return DataMemory::mapped;
  }
  // The busiest node decides for all, so every rank makes the same choice.
  std::uint64_t copies = 0, shared = 0;
  std::vector<int> nodes;
  for (const RankFacts& f : all) nodes.push_back(f.node);
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  bool several = false;
  for (int node : nodes) {
    std::uint64_t sum = 0, lo = UINT64_MAX, hi = 0, row_bytes = 0;
    int ranks = 0;
    for (const RankFacts& f : all) {
      if (f.node != node) continue;
      ++ranks;
      sum += f.bytes;
      if (f.rows > 0) {
        lo = std::min(lo, f.first_row);
        hi = std::max(hi, f.first_row + f.rows);
        row_bytes = f.bytes / f.rows;
      }
    }
    several = several || ranks > 1;
    copies = std::max(copies, sum);
    shared = std::max(shared, hi > lo ? (hi - lo) * row_bytes : 0);
  }
  (void)my_node;
  const auto budget = static_cast<std::uint64_t>(static_cast<double>(available) * kFitShare);
  if (several && shared < copies && shared <= budget) {
    reason = "auto: the node's ranks read the same rows; one copy of " + gib_text(shared) +
             " fits in " + gib_text(available) + " available";
    return DataMemory::node_shared;
  }
  // A copy costs a read of every byte before the pass reads it again: for the one pass of an
  // analysis (stats, hist, the example) the mapping, read once, is the fastest that fits.
  // Resident pays off for several passes or random access, which the caller knows: it asks.
  (void)copies;
  reason = "auto: one pass reads the mapping once; a copy would read every byte twice";
  return DataMemory::mapped;
}

}  // namespace

std::string_view to_string(DataMemory memory) noexcept {
  switch (memory) {
    case DataMemory::automatic:
      return "auto";
    case DataMemory::mapped:
      return "mapped";
    case DataMemory::resident:
      return "resident";
    case DataMemory::node_shared:
      return "node-shared";
  }
  return "auto";
}

DataMemory parse_data_memory(std::string_view text) {
  for (DataMemory m :
       {DataMemory::automatic, DataMemory::mapped, DataMemory::resident, DataMemory::node_shared}) {
    if (text == to_string(m)) return m;
  }
  throw Error(
      ErrorCategory::invalid_argument,
      "--memory takes auto, mapped, resident or node-shared, not '" + std::string(text) + "'",
      {{"memory", std::string(text)}});
}

std::string DataMemoryReport::summary() const {
  std::string out = std::string(to_string(memory)) + " (" + reason + "), pages " + pages;
  if (!backing.empty()) out += ", " + backing;
  if (load_seconds > 0) {
    char text[64];
    std::snprintf(text, sizeof text, ", loaded in %.3g s", load_seconds);
    out += text;
  }
  return out;
}

struct PartitionData::Impl {
  Partition partition;
  DataMemoryReport report;
  ArrayStorage resident;
  SharedSegment segment;
  std::span<const std::byte> loaded;
  explicit Impl(Partition p) : partition(std::move(p)) {}
};

PartitionData::PartitionData(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PartitionData::PartitionData(PartitionData&&) noexcept = default;
PartitionData& PartitionData::operator=(PartitionData&&) noexcept = default;
PartitionData::~PartitionData() = default;
const Partition& PartitionData::partition() const noexcept { return impl_->partition; }
const DataMemoryReport& PartitionData::report() const noexcept { return impl_->report; }
std::span<const std::byte> PartitionData::loaded() const& noexcept { return impl_->loaded; }

namespace {

void load_mapped(Executor& ex, PartitionData::Impl& d, const DataOptions& options) {
  const Partition& part = d.partition;
  const std::byte* base = part.mapped_address();
  const std::uint64_t bytes = part.size_bytes();
  if (base == nullptr) {
    d.report.pages = "in memory (HDF5 rows read at open)";
    return;
  }
  if (options.collapse) {
    // MADV_COLLAPSE works on whole 2 MiB-aligned ranges: the ones inside the partition.
    constexpr std::uint64_t kHuge = std::uint64_t{2} << 20;
    const auto address = reinterpret_cast<std::uintptr_t>(base);
    const std::uint64_t head = (kHuge - address % kHuge) % kHuge;
    const std::uint64_t whole = bytes > head ? (bytes - head) / kHuge : 0;
    std::atomic<int> refused{0};
    std::atomic<std::uint64_t> collapsed{0};
    if (whole > 0) {
      const ChunkPlan plan = ChunkPlan::even(ex.topology(), whole, 8);
      detail::for_each_chunk_range(ex, plan, 1, [&](ElementRange r) {
        void* start = const_cast<std::byte*>(base + head + r.first * kHuge);
        if (::madvise(start, r.count * kHuge, MADV_COLLAPSE) == 0) {
          collapsed += r.count;
        } else {
          int expected = 0;
          refused.compare_exchange_strong(expected, errno);
        }
      });
    }
    if (refused.load() != 0) {
      d.report.fallbacks.push_back(std::string("MADV_COLLAPSE refused for part of the data: ") +
                                   std::strerror(refused.load()));
    }
  }
  const MappingPages pages = mapping_pages(base, bytes);
  d.report.pages = pages.kind();
  d.report.huge_bytes = pages.huge_bytes();
}

void load_resident_data(Runtime& rt, Executor& ex, PartitionData::Impl& d,
                        const DataOptions& options) {
  const Partition& part = d.partition;
  if (part.size_bytes() == 0) {
    d.report.pages = "none (no rows)";
    return;
  }
  ArrayOptions array_options;
  array_options.largest_pages = options.largest_pages;
  d.resident = load_resident(ex, rt.memory(), "dataset " + part.file(), part.dtype(), part.shape(),
                             byte_source(part), array_options);
  const PlacedRegion& region = d.resident.region();
  d.loaded = {d.resident.data(), static_cast<std::size_t>(part.size_bytes())};
  MappingPages pages;
  if (region.page_size() == PageSize::huge_2m || region.page_size() == PageSize::huge_1g) {
    // hugetlb: the mapping's page size is the region's, and the load touched every page. No read
    // of /proc/self/smaps, which walks the page tables of every mapping of the process: a cost
    // that grows with the job's other mappings, not with the rows loaded.
    pages.found = true;
    pages.kernel_page_bytes = page_bytes(region.page_size());
    pages.hugetlb_bytes = region.mapped_bytes();
  } else {
    pages = mapping_pages(d.loaded.data(), d.loaded.size());
  }
  d.report.pages = pages.kind();
  d.report.huge_bytes = pages.huge_bytes();
  d.report.fallbacks = region.fallbacks();
  d.report.placement_applied = region.placement_applied();
}

void load_node_shared(Runtime& rt, Executor& ex, PartitionData::Impl& d,
                      const std::vector<RankFacts>& all) {
  const Partition& part = d.partition;
  const RankFacts& me = all[static_cast<std::size_t>(rt.rank())];
  std::vector<int> local;
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r].node == me.node) local.push_back(static_cast<int>(r));
  }
  const std::uint64_t row_bytes = part.row_bytes();
  // The node's rows: the same rows on every rank, or rows that follow one another in rank order.
  bool same = true, follow = true;
  for (std::size_t i = 1; i < local.size(); ++i) {
    const RankFacts& a = all[static_cast<std::size_t>(local[i - 1])];
    const RankFacts& b = all[static_cast<std::size_t>(local[i])];
    same = same && a.first_row == b.first_row && a.rows == b.rows;
    follow = follow && b.first_row == a.first_row + a.rows;
  }
  if (!same && !follow) {
    throw Error(ErrorCategory::invalid_argument,
                "node-shared needs the ranks of a node to read the same rows or rows that follow "
                "one another in rank order",
                {{"file", part.file()}, {"rank", std::to_string(rt.rank())}});
  }
  const RankFacts& leader = all[static_cast<std::size_t>(local.front())];
  const RankFacts& last = all[static_cast<std::size_t>(local.back())];
  const std::uint64_t node_first = leader.first_row;
  const std::uint64_t node_rows = same ? leader.rows : last.first_row + last.rows - node_first;
  const std::uint64_t node_bytes = node_rows * row_bytes;
  // This rank's share of the loading, in rows of the partition.
  RowRange share{0, part.rows().count};
  if (same && local.size() > 1) {
    const auto index =
        static_cast<int>(std::find(local.begin(), local.end(), rt.rank()) - local.begin());
    share = partition_rows(part.rows().count, index, static_cast<int>(local.size()));
  }
  d.report.node_bytes = node_bytes;
  if (node_bytes > 0) {
    SharedSegmentOptions so;
    so.job_key = "p" + std::to_string(leader.pid);
    so.attach_writable = true;
    so.hugetlbfs_dir = std::string(leader.hugetlbfs.data());
    so.allocate_on_create = false;  // each rank allocates its share, on its own NUMA nodes
    char name[40];
    std::snprintf(name, sizeof name, "ds-%016llx",
                  static_cast<unsigned long long>(
                      fnv1a(part.file() + '\n' + std::to_string(node_first) + '\n' +
                            std::to_string(node_rows) + '\n' + std::to_string(row_bytes))));
    d.segment = SharedSegment::create_or_attach(name, node_bytes, so);
    if (d.segment.is_owner()) d.segment.mark_ready();  // allocated: every rank fills its share
    d.report.backing =
        so.hugetlbfs_dir.empty()
            ? "segment " + d.segment.path() + " (shared memory, THP " + shmem_thp_mode() + ")"
            : "segment " + d.segment.path() + " (hugetlbfs)";
  }
  // Every rank of a node must be attached to the same segment before its name goes.
  const std::uint64_t generation = d.segment.generation();
  const std::vector<std::uint64_t> generations = rt.mpi().allgather(generation);
  for (int r : local) {
    if (generations[static_cast<std::size_t>(r)] != generation) {
      throw Error(ErrorCategory::distributed,
                  "the ranks of a node attached to different node-shared segments",
                  {{"segment", d.segment.path()}, {"rank", std::to_string(r)}});
    }
  }
  if (share.count > 0) {
    const std::uint64_t in_node = (part.rows().first - node_first + share.first) * row_bytes;
    // The share's pages go on the NUMA nodes whose threads load and then read those rows, in the
    // proportions the executor splits rows by (PlacementPlan::by_rows), before the first write.
    // On a synthetic topology there is nothing real to place on: the pages are only allocated.
    const Topology& topology = ex.topology();
    const PlacementPlan plan = PlacementPlan::by_rows(topology, share.count, row_bytes);
    bool placed = topology.is_this_system() && !plan.blocks().empty();
    for (const PlanBlock& block : plan.blocks()) {
      if (topology.is_this_system()) {
        placed = d.segment.allocate(in_node + block.byte_offset, block.bytes, &topology,
                                    Placement::preferred(block.node)) &&
                 placed;
      } else {
        d.segment.allocate(in_node + block.byte_offset, block.bytes);
      }
    }
    d.report.placement_applied = placed;
    load_into(ex, byte_source(part), share.first * row_bytes,
              d.segment.data().subspan(in_node, share.count * row_bytes));
  }
  rt.mpi().barrier();  // every share loaded, every rank attached
  // The name goes now: the memory lives while a rank maps it, and a rank killed from here on
  // leaves nothing in /dev/shm.
  if (d.segment.is_owner()) d.segment.unlink();
  if (node_bytes > 0) {
    const std::uint64_t mine = (part.rows().first - node_first) * row_bytes;
    d.loaded = d.segment.bytes().subspan(mine, part.size_bytes());
    const MappingPages pages = mapping_pages(d.segment.bytes().data(), node_bytes);
    d.report.pages = pages.kind();
    d.report.huge_bytes = pages.huge_bytes();
  } else {
    d.report.pages = "none (no rows)";
  }
}

}  // namespace

PartitionData load(Runtime& rt, Executor& ex, const Partition& partition,
                   const DataOptions& options) {
  auto d = std::make_unique<PartitionData::Impl>(partition);
  RankFacts mine;
  mine.node = rt.mpi().node_index();
  mine.first_row = partition.rows().first;
  mine.rows = partition.rows().count;
  mine.bytes = partition.size_bytes();
  mine.available = read_memory_availability().available_bytes();
  mine.pid = static_cast<std::int64_t>(::getpid());
  mine.has_mapping = partition.mapped_address() != nullptr || partition.size_bytes() == 0;
  if (options.memory == DataMemory::node_shared ||
      (options.memory == DataMemory::automatic && rt.mpi().local_size() > 1)) {
    // Hugetlb pages for the node's copy when a mount has room for it (its size is known later, so
    // ask for room for the whole dataset's rows this node could hold: an upper bound).
    const std::string dir = usable_hugetlbfs(partition.size_bytes() *
                                             static_cast<std::uint64_t>(rt.mpi().local_size()));
    std::memcpy(mine.hugetlbfs.data(), dir.data(), dir.size());
  }
  const std::vector<RankFacts> all = rt.mpi().allgather(mine);
  DataMemory memory = options.memory;
  d->report.automatic = memory == DataMemory::automatic;
  if (d->report.automatic) {
    memory = choose(all, mine.node, d->report.reason);
  } else {
    d->report.reason = "--memory " + std::string(to_string(memory));
  }
  d->report.memory = memory;
  d->report.bytes = partition.size_bytes();
  const auto start = Clock::now();
  switch (memory) {
    case DataMemory::automatic:
    case DataMemory::mapped:
      load_mapped(ex, *d, options);
      return PartitionData(std::move(d));
    case DataMemory::resident:
      load_resident_data(rt, ex, *d, options);
      break;
    case DataMemory::node_shared:
      load_node_shared(rt, ex, *d, all);
      break;
  }
  d->report.load_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return PartitionData(std::move(d));
}

}  // namespace strata::io
