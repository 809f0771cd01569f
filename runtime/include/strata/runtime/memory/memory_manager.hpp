// SPDX-License-Identifier: Apache-2.0
// MemoryManager: the one place strata's memory comes from. Arrays become placed regions split
// per NUMA node; raw requests are routed by size — up to 1 MiB to the NumaPool heap of the
// calling thread's node (small classes to 32 KiB, the mid-size tier above), larger ones to
// placed regions — and everything is counted per node.
//
//   strata::MemoryManager mm(topology);
//   auto u = mm.array<double>("u", {4096, 4096});           // huge pages, one block per node
//   void* p = mm.allocate(1 << 20);  mm.deallocate(p, 1 << 20);
//   std::pmr::vector<int> v(&mm.resource());                // the same routing for pmr containers
//   for (const auto& node : mm.statistics()) ...
#pragma once

#include <cstddef>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "strata/runtime/machine/topology.hpp"
#include "strata/runtime/memory/array.hpp"
#include "strata/runtime/memory/memory_pressure.hpp"
#include "strata/runtime/memory/memory_statistics.hpp"
#include "strata/runtime/memory/numa_pool.hpp"
#include "strata/runtime/memory/placed_region.hpp"

namespace strata {

struct ArrayOptions {
  // Largest page size for the fallback chain (see RegionOptions).
  PageSize largest_pages = PageSize::huge_1g;
  // Fault the pages in now, each block on its node, so compute does not pay first-touch faults.
  bool populate = true;
  bool lock = false;
  // One policy for the whole array instead of one block per node (e.g. interleave for data all
  // threads read). Unset: split by rows with PlacementPlan::by_rows.
  std::optional<Placement> placement;
  // Nodes to split over (default: nodes with allowed CPUs).
  std::optional<std::vector<unsigned>> nodes;
};

class MemoryManager;

// A MemoryManager as a std::pmr::memory_resource (the same routing by size). Equal only to itself.
class MemoryManagerResource : public std::pmr::memory_resource {
 public:
  explicit MemoryManagerResource(MemoryManager& manager) noexcept : manager_(&manager) {}

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override;
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }
  MemoryManager* manager_;
};

class MemoryManager {
 public:
  // Requests up to this go to the pool: a placed region costs at least a page and two system
  // calls, which objects this small cannot amortise.
  static constexpr std::size_t kSmallRequestBytes = NumaPool::kLargestClassBytes;

  explicit MemoryManager(const Topology& topology);
  MemoryManager(const MemoryManager&) = delete;
  MemoryManager& operator=(const MemoryManager&) = delete;
  ~MemoryManager();

  // An array of `shape` in placed memory. Throws Error(invalid_argument) for bad shapes,
  // Error(resource) when memory is refused (also while pressure() is critical).
  template <class T>
  Array<T> array(std::string name, Shape shape, ArrayOptions options = {}) {
    return Array<T>(allocate_array(std::move(name), dtype_of<T>(), shape, options));
  }
  ArrayStorage allocate_array(std::string name, DType dtype, Shape shape, ArrayOptions options = {});

  // A placed region counted in the statistics; refused like an array under critical pressure.
  PlacedRegion region(std::size_t bytes, RegionOptions options = {});

  // Raw memory, routed by size. `alignment` is a power of two up to 4096. Throws
  // Error(invalid_argument) for another alignment, std::bad_alloc or Error(resource) when memory
  // is refused. deallocate needs the `bytes` given to allocate, from any thread.
  void* allocate(std::size_t bytes, std::size_t alignment = alignof(std::max_align_t));
  void deallocate(void* pointer, std::size_t bytes) noexcept;

  // Per node; small_bytes and bytes_in_use include the pool's blocks (at their size class) and
  // peak_bytes adds the pool's peak to the rest's (an upper bound of the joint peak).
  std::vector<NodeMemoryStats> statistics() const;
  const Topology& topology() const noexcept { return topology_; }
  // The pool small requests come from (its own statistics: remote frees, heaps, spans).
  NumaPool& pool() noexcept { return pool_; }
  // The memory-pressure monitor: it trims this manager's pool on pressure and refuses new
  // regions and arrays while critical (the Runtime starts its watcher).
  MemoryPressureMonitor& pressure() noexcept { return pressure_; }
  const MemoryPressureMonitor& pressure() const noexcept { return pressure_; }
  // This manager as a pmr resource, e.g. for std::pmr containers or a MemoryScope.
  std::pmr::memory_resource& resource() noexcept { return resource_; }

 private:
  unsigned current_node() const noexcept;

  const Topology& topology_;
  std::shared_ptr<MemoryStatistics> stats_;
  mutable std::mutex large_mutex_;
  std::unordered_map<void*, PlacedRegion> large_;
  NumaPool pool_;
  MemoryPressureMonitor pressure_;
  MemoryPressureMonitor::Subscription pool_watch_ = pressure_.watch(pool_);
  MemoryManagerResource resource_{*this};
};

// An STL allocator drawing from a MemoryManager: std::vector<double, ManagedAllocator<double>>.
template <class T>
class ManagedAllocator {
 public:
  using value_type = T;
  explicit ManagedAllocator(MemoryManager& manager) noexcept : manager_(&manager) {}
  template <class U>
  ManagedAllocator(const ManagedAllocator<U>& other) noexcept : manager_(other.manager()) {}

  T* allocate(std::size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(manager_->allocate(n * sizeof(T), alignof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { manager_->deallocate(p, n * sizeof(T)); }
  MemoryManager* manager() const noexcept { return manager_; }

  template <class U>
  bool operator==(const ManagedAllocator<U>& other) const noexcept {
    return manager_ == other.manager();
  }

 private:
  MemoryManager* manager_;
};

}  // namespace strata
