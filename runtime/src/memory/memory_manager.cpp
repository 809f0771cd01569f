// SPDX-License-Identifier: Apache-2.0
// MemoryManager: arrays as placed regions with one preferred-node block per plan entry, raw
// requests routed by size (pool up to 1 MiB, placed region above), and per-node accounting
// through MemoryCharge receipts plus the pool's own counters.
#include "strata/runtime/memory/memory_manager.hpp"

#include <sched.h>

#include <new>

namespace strata {
namespace {

ChargeKind charge_kind(const PlacedRegion& r) {
  switch (r.page_size()) {
    case PageSize::huge_1g:
    case PageSize::huge_2m: return ChargeKind::hugetlb;
    case PageSize::transparent: return ChargeKind::transparent;
    case PageSize::base: return ChargeKind::base;
  }
  return ChargeKind::base;
}

}  // namespace

MemoryManager::MemoryManager(const Topology& topology)
    : topology_(topology),
      stats_(std::make_shared<MemoryStatistics>(topology.numa_nodes().size())),
      pool_(topology) {}

MemoryManager::~MemoryManager() = default;

unsigned MemoryManager::current_node() const noexcept {
  int cpu = sched_getcpu();
  int node = cpu >= 0 ? topology_.numa_node_of_cpu(static_cast<unsigned>(cpu)) : -1;
  return node >= 0 ? static_cast<unsigned>(node) : 0;
}

ArrayStorage MemoryManager::allocate_array(std::string name, DType dtype, Shape shape,
                                           ArrayOptions options) {
  const std::size_t bytes = shape.byte_count(dtype);  // throws on overflow
  const std::size_t rows = shape.rank() == 0 ? 1 : shape[0];
  const std::size_t row_bytes = shape.row_elements() * dtype_bytes(dtype);
  if (bytes > 0) pressure_.admit_region(bytes);

  PlacementPlan plan;
  const bool single_policy = options.placement.has_value();
  if (single_policy && (options.placement->policy() == PlacementPolicy::bind ||
                        options.placement->policy() == PlacementPolicy::preferred)) {
    plan = PlacementPlan::single_node(rows, row_bytes, options.placement->nodes().at(0));
  } else {
    plan = PlacementPlan::by_rows(topology_, rows, row_bytes, options.nodes);
  }
  if (bytes == 0) return ArrayStorage(std::move(name), dtype, shape, PlacedRegion(), std::move(plan));

  PlacedRegion region = PlacedRegion::allocate(
      topology_, bytes,
      RegionOptions{.placement = options.placement.value_or(Placement::local()),
                    .largest_pages = options.largest_pages});
  // One block per node: "preferred" rather than a strict bind, so a node short of memory spills
  // to its neighbours instead of calling the OOM killer.
  if (!single_policy && plan.blocks().size() > 1) {
    for (const auto& b : plan.blocks()) region.place(b.byte_offset, b.bytes, Placement::preferred(b.node));
  }
  if (options.populate) region.populate();
  if (options.lock) region.lock();

  MemoryCharge charge(stats_, charge_kind(region),
                      single_policy ? options.placement->policy() : PlacementPolicy::preferred);
  for (const auto& b : plan.blocks()) charge.add(b.node, b.bytes);
  region.set_charge(std::move(charge));
  return ArrayStorage(std::move(name), dtype, shape, std::move(region), std::move(plan));
}

PlacedRegion MemoryManager::region(std::size_t bytes, RegionOptions options) {
  PlacementPolicy policy = options.placement.policy();
  std::vector<unsigned> nodes = options.placement.nodes();
  pressure_.admit_region(bytes);
  PlacedRegion r = PlacedRegion::allocate(topology_, bytes, std::move(options));
  MemoryCharge charge(stats_, charge_kind(r), policy);
  if (policy == PlacementPolicy::local) {
    charge.add(current_node(), r.mapped_bytes());
  } else {
    if (nodes.empty()) {
      for (const auto& n : topology_.numa_nodes()) nodes.push_back(n.index);
    }
    std::size_t each = r.mapped_bytes() / nodes.size();
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      charge.add(nodes[i], i + 1 == nodes.size() ? r.mapped_bytes() - each * i : each);
    }
  }
  r.set_charge(std::move(charge));
  return r;
}

void* MemoryManager::allocate(std::size_t bytes, std::size_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > 4096) {
    throw Error(ErrorCategory::invalid_argument, "alignment must be a power of two up to 4096",
                {{"alignment", std::to_string(alignment)}});
  }
  if (bytes <= NumaPool::kLargestClassBytes) return pool_.allocate(bytes, alignment);
  PlacedRegion r = region(bytes, {.largest_pages = PageSize::huge_2m});
  void* p = r.data();
  std::lock_guard lock(large_mutex_);
  large_.emplace(p, std::move(r));
  return p;
}

void MemoryManager::deallocate(void* pointer, std::size_t bytes) noexcept {
  if (pointer == nullptr) return;
  if (bytes <= NumaPool::kLargestClassBytes) {
    pool_.deallocate(pointer);
    return;
  }
  PlacedRegion doomed;  // unmapped after the lock is released
  std::lock_guard lock(large_mutex_);
  if (auto it = large_.find(pointer); it != large_.end()) {
    doomed = std::move(it->second);
    large_.erase(it);
  }
}

std::vector<NodeMemoryStats> MemoryManager::statistics() const {
  std::vector<NodeMemoryStats> out = stats_->snapshot();
  std::vector<PoolNodeStats> pool = pool_.statistics();
  for (std::size_t n = 0; n < out.size() && n < pool.size(); ++n) {
    out[n].bytes_in_use += pool[n].bytes_in_use;
    out[n].small_bytes += pool[n].bytes_in_use;
    out[n].peak_bytes += pool[n].peak_bytes;
  }
  return out;
}

void* MemoryManagerResource::do_allocate(std::size_t bytes, std::size_t alignment) {
  return manager_->allocate(bytes, alignment);
}

void MemoryManagerResource::do_deallocate(void* p, std::size_t bytes, std::size_t) {
  manager_->deallocate(p, bytes);
}

}  // namespace strata
