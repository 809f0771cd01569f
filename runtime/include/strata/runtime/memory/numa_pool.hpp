// SPDX-License-Identifier: Apache-2.0
// NumaPool: small and mid-size object memory from per-thread heaps, each tied to the NUMA node of its thread and
// carved from that node's own placed memory. A thread's own allocate/free pair touches only its
// heap (no atomic read-modify-write); a block freed by another thread goes back to its owner
// through a lock-free remote-free list. NumaPoolResource is the same pool as a
// std::pmr::memory_resource, so the standard containers can use it.
//
//   strata::NumaPool pool(topology);
//   void* p = pool.allocate(48);  pool.deallocate(p);                // from any thread
//   strata::NumaPoolResource res(pool);
//   std::pmr::vector<int> v(&res);  std::pmr::unordered_map<int, double> m(&res);
//
// Size classes run from 16 B to kLargestSmallClassBytes (32 KiB) in 64 KiB spans, and on to
// kLargestClassBytes (1 MiB) in 4 MiB spans (the mid-size tier); blocks of classes of 64 B and
// more are 64-byte aligned, mid-size blocks 4 KiB aligned. docs/memory.md describes the design.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <vector>

#include "strata/runtime/machine/topology.hpp"
#define STRATA_INSIDE_NUMA_POOL_HPP
#include "strata/runtime/memory/detail/numa_pool_fast_path.hpp"
#undef STRATA_INSIDE_NUMA_POOL_HPP

namespace strata {

// Per NUMA node, for every thread heap of the node (live and exited). Counts are exact once
// the threads are quiet; while they run they may lag by the frees not yet collected.
struct PoolNodeStats {
  std::uint64_t bytes_in_use = 0;     // size-class bytes of live blocks
  std::uint64_t peak_bytes = 0;       // highest bytes_in_use seen (sampled when heaps take spans)
  std::uint64_t allocations = 0;      // blocks handed out, ever
  std::uint64_t frees = 0;            // blocks given back, ever (local and remote)
  std::uint64_t remote_frees = 0;     // of those, freed by a thread other than the owner
  std::uint64_t span_bytes = 0;       // memory held in spans (in heaps or cached by the node)
  std::uint64_t reserved_bytes = 0;   // placed memory reserved from the node for spans
  std::uint64_t heaps = 0;            // live thread heaps
  std::uint64_t abandoned_heaps = 0;  // heaps of exited threads still holding live blocks
};

struct NumaPoolOptions {
  // Placed memory is reserved from a node this much at a time (and must hold whole segments).
  std::size_t reserve_bytes = std::size_t{32} << 20;
};

class NumaPool {
 public:
  static constexpr std::size_t kSmallestClassBytes = 16;
  // Largest class of the small tier (64 KiB spans, inline fast path).
  static constexpr std::size_t kLargestSmallClassBytes = detail::numa_pool::kLargestSmallClassBytes;
  // Largest class of all: the mid-size tier (one 4 MiB span per class and heap) ends here.
  static constexpr std::size_t kLargestClassBytes = detail::numa_pool::kLargestClassBytes;
  // Spans are carved into blocks of one class; 64 KiB keeps 16 blocks of 4 KiB in one span
  // and lets a free find its span's metadata by masking the address.
  static constexpr std::size_t kSpanBytes = detail::numa_pool::kSpanBytes;
  // Segments group spans (metadata in the first span); aligned to their size.
  static constexpr std::size_t kSegmentBytes = detail::numa_pool::kSegmentBytes;
  // Largest alignment a pool block can have (a class must be a multiple of it).
  static constexpr std::size_t kLargestAlignment = 4096;

  // The pool uses `topology` (which must outlive it) to find the calling thread's node.
  // Throws Error(invalid_argument) for a reserve smaller than two segments.
  explicit NumaPool(const Topology& topology, NumaPoolOptions options = {});
  NumaPool(const NumaPool&) = delete;
  NumaPool& operator=(const NumaPool&) = delete;
  // Releases all memory. Blocks still live become invalid; threads may outlive the pool.
  ~NumaPool();

  // True when the pool serves a request of `bytes` with `alignment` (a power of two).
  static bool fits(std::size_t bytes, std::size_t alignment = alignof(std::max_align_t)) noexcept;

  // A block of at least `bytes` (0 counts as 1) from the calling thread's heap on its NUMA node,
  // 16-byte aligned (64 from the 64-byte class up, 4096 above 32 KiB). Throws std::bad_alloc when the request does
  // not fit (see fits) or the node's memory is refused. Inline: the owner's fast path is a
  // handful of instructions with no call.
  void* allocate(std::size_t bytes) {
    namespace np = detail::numa_pool;
    np::ThreadHeapEntry& cached = np::thread_heaps[0];
    if (bytes > kLargestSmallClassBytes || cached.pool_id != id_) [[unlikely]] {
      return allocate_unusual(bytes, 16);
    }
    return np::pop_block(cached.heap, np::kClassOfSixteenths[(bytes + 15) >> 4]);
  }
  // The same with `alignment` (a power of two up to kLargestAlignment). Throws
  // Error(invalid_argument) for an alignment that is not a power of two.
  void* allocate(std::size_t bytes, std::size_t alignment);
  // Gives back a block of this pool, from any thread. The size is not needed. Inline like
  // allocate; a free by another thread is one compare-and-swap, out of line.
  void deallocate(void* block) noexcept {
    namespace np = detail::numa_pool;
    if (block == nullptr) return;
    auto* b = static_cast<np::Block*>(block);
    np::Span* s = np::span_of(b);
    if (s->owner.load(std::memory_order_relaxed) == np::this_thread_tag()) [[likely]] {
      b->next = s->local_free;
      s->local_free = b;
      const bool empty = np::drop_used(s);
      if (!s->current && (empty || !s->listed)) [[unlikely]] {
        np::after_local_free(s);
      }
      return;
    }
    np::remote_free(s, b);
  }
  // True when `block` lies in this pool's memory.
  bool owns(const void* block) const noexcept;
  // The usable bytes of a live block (its size class).
  static std::size_t block_bytes(const void* block) noexcept;

  // The calling thread's heap's node (the node of the CPU it first allocated on).
  unsigned current_node();
  std::vector<PoolNodeStats> statistics() const;
  // Collects pending remote frees of exited threads' heaps and returns fully free spans to the
  // nodes; called from slow paths too, so calling it is never required.
  void reclaim();
  // reclaim(), hands the calling thread's retained free spans to its node, then gives the pages
  // of the nodes' fully free spans back to the OS (the address range stays reserved; pages
  // fault in again on reuse). Returns the bytes released. Other threads' heaps keep their few
  // retained spans (at most 4 MiB small and 8 MiB mid-size each).
  std::size_t trim();

  const Topology& topology() const noexcept { return topology_; }

  struct Core;  // private; defined in runtime/src/memory/numa_pool.cpp

 private:
  void* allocate_unusual(std::size_t bytes, std::size_t alignment);

  const Topology& topology_;
  std::unique_ptr<Core> core_;
  std::uint64_t id_ = 0;  // the core's id, read by every allocation
};

// NumaPool as a std::pmr::memory_resource. Requests the pool cannot serve (over 1 MiB, or
// aligned beyond 4 KiB) go to `upstream` (default: new/delete). Equal only to itself.
class NumaPoolResource : public std::pmr::memory_resource {
 public:
  explicit NumaPoolResource(NumaPool& pool,
                            std::pmr::memory_resource* upstream = std::pmr::new_delete_resource())
      : pool_(&pool), upstream_(upstream) {}
  NumaPool& pool() const noexcept { return *pool_; }

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override;
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  NumaPool* pool_;
  std::pmr::memory_resource* upstream_;
};

}  // namespace strata
