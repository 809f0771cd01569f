// SPDX-License-Identifier: Apache-2.0
// Tests of NumaPool and its pmr resource: size classes and alignment, no overlap between live
// blocks, statistics that balance to zero, millions of mixed allocations and cross-thread frees
// on 2-4 threads, threads that exit with live blocks, heaps on the thread's node of a synthetic
// topology, and the standard pmr containers. Also run under ThreadSanitizer (label tsan).
#include "strata/runtime/memory/numa_pool.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory_resource>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/pagemap.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/memory/memory_manager.hpp"

namespace {

using strata::NumaPool;
using strata::PoolNodeStats;
using strata::Topology;

#if defined(__SANITIZE_THREAD__)
constexpr std::size_t kOpsPerThread = 100'000;  // ThreadSanitizer runs ~10x slower
#else
constexpr std::size_t kOpsPerThread = 1'000'000;
#endif

PoolNodeStats total(const NumaPool& pool) {
  PoolNodeStats t;
  for (const auto& n : pool.statistics()) {
    t.bytes_in_use += n.bytes_in_use;
    t.allocations += n.allocations;
    t.frees += n.frees;
    t.remote_frees += n.remote_frees;
    t.heaps += n.heaps;
    t.abandoned_heaps += n.abandoned_heaps;
  }
  return t;
}

// Fills a block with a byte derived from its address and size, so a block another one overwrote
// is caught when checked.
void stamp(void* p, std::size_t bytes) {
  std::memset(p, static_cast<int>((reinterpret_cast<std::uintptr_t>(p) >> 4) ^ bytes) & 0xff,
              bytes);
}
bool stamp_intact(const void* p, std::size_t bytes) {
  auto want =
      static_cast<unsigned char>(((reinterpret_cast<std::uintptr_t>(p) >> 4) ^ bytes) & 0xff);
  const auto* b = static_cast<const unsigned char*>(p);
  return std::all_of(b, b + bytes, [&](unsigned char c) { return c == want; });
}

// Proves every size from 0 to 1 MiB gets a block of at least that size, 16-byte aligned,
// 64-byte aligned from the 64-byte class up and 4 KiB aligned above 32 KiB (the mid-size tier);
// larger alignments up to 4 KiB are honoured.
TEST(NumaPool, SizeClassesAndAlignment) {
  Topology topo = Topology::load();
  NumaPool pool(topo);
  EXPECT_TRUE(NumaPool::fits(NumaPool::kLargestClassBytes));
  EXPECT_FALSE(NumaPool::fits(NumaPool::kLargestClassBytes + 1));
  EXPECT_FALSE(NumaPool::fits(64, 8192));
  for (std::size_t bytes = 0; bytes <= NumaPool::kLargestClassBytes;
       bytes += bytes < 1024 ? 1 : (bytes < NumaPool::kLargestSmallClassBytes ? 61 : 4093)) {
    void* p = pool.allocate(bytes);
    std::size_t got = NumaPool::block_bytes(p);
    EXPECT_GE(got, std::max<std::size_t>(bytes, 1)) << bytes;
    EXPECT_LE(got, std::max<std::size_t>(16, bytes + bytes / 4 + 64))
        << bytes;  // rounding loss bound
    auto addr = reinterpret_cast<std::uintptr_t>(p);
    EXPECT_EQ(addr % 16, 0u) << bytes;
    if (got >= 64) {
      EXPECT_EQ(addr % 64, 0u) << bytes;
    }
    if (bytes > NumaPool::kLargestSmallClassBytes) {
      EXPECT_EQ(addr % 4096, 0u) << bytes;
    }
    EXPECT_TRUE(pool.owns(p));
    pool.deallocate(p);
  }
  for (std::size_t align : {32u, 64u, 128u, 256u, 1024u, 4096u}) {
    for (std::size_t bytes : {1u, 17u, 100u, 3000u, 5000u, 40'000u, 700'000u}) {
      void* p = pool.allocate(bytes, align);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << bytes << " @" << align;
      EXPECT_GE(NumaPool::block_bytes(p), bytes);
      pool.deallocate(p);
    }
  }
  int local = 0;
  EXPECT_FALSE(pool.owns(&local));
  EXPECT_EQ(total(pool).bytes_in_use, 0u);
}

// Proves requests the pool cannot serve are refused by an exception, never with memory: too
// large or aligned beyond 4 KiB throw std::bad_alloc, an alignment that is not a power of two
// (0, 3, 48, 3000) throws strata::Error, and no block is left taken.
TEST(NumaPool, RefusesRequestsItCannotServe) {
  Topology topo = Topology::load();
  NumaPool pool(topo);
  EXPECT_THROW(pool.allocate(NumaPool::kLargestClassBytes + 1), std::bad_alloc);
  EXPECT_THROW(pool.allocate(SIZE_MAX), std::bad_alloc);
  EXPECT_THROW(pool.allocate(64, 8192), std::bad_alloc);
  for (std::size_t align : {0u, 3u, 48u, 3000u}) {
    EXPECT_THROW(pool.allocate(64, align), strata::Error) << align;
  }
  EXPECT_EQ(total(pool).bytes_in_use, 0u);
}

// Proves a thread that uses more pools than its cache holds finds its heap in each again (one
// heap per pool) rather than making a second one.
TEST(NumaPool, ThreadUsingManyPoolsKeepsOneHeapEach) {
  Topology topo = Topology::load();
  std::vector<std::unique_ptr<NumaPool>> pools;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < 2 * strata::detail::numa_pool::kCachedPools; ++i) {
    pools.push_back(std::make_unique<NumaPool>(topo));
    blocks.push_back(pools.back()->allocate(32));
  }
  for (std::size_t i = 0; i < pools.size(); ++i) {
    pools[i]->deallocate(blocks[i]);
    pools[i]->deallocate(pools[i]->allocate(32));
    EXPECT_EQ(total(*pools[i]).heaps, 1u) << i;
    EXPECT_EQ(total(*pools[i]).allocations, 2u) << i;
  }
}

// Proves live blocks never overlap (each keeps its stamp while tens of thousands of others are
// allocated and freed around it), and the statistics count every block and balance to zero.
TEST(NumaPool, LiveBlocksDoNotOverlapAndStatsBalance) {
  Topology topo = Topology::load();
  NumaPool pool(topo);
  std::mt19937_64 rng(42);
  std::vector<std::pair<void*, std::size_t>> live;
  std::uint64_t allocated = 0;
  for (int round = 0; round < 40'000; ++round) {
    if (live.empty() || rng() % 3 != 0) {
      std::size_t bytes =
          rng() % 8 == 0 ? 1 + rng() % NumaPool::kLargestSmallClassBytes : 1 + rng() % 512;
      void* p = pool.allocate(bytes);
      stamp(p, bytes);
      live.emplace_back(p, bytes);
      ++allocated;
    } else {
      std::size_t i = rng() % live.size();
      ASSERT_TRUE(stamp_intact(live[i].first, live[i].second));
      pool.deallocate(live[i].first);
      live[i] = live.back();
      live.pop_back();
    }
  }
  std::sort(live.begin(), live.end());
  for (std::size_t i = 0; i + 1 < live.size(); ++i) {
    ASSERT_LE(static_cast<std::byte*>(live[i].first) + live[i].second,
              static_cast<std::byte*>(live[i + 1].first));
  }
  PoolNodeStats mid = total(pool);
  EXPECT_EQ(mid.allocations, allocated);
  EXPECT_GT(mid.bytes_in_use, 0u);
  for (auto [p, bytes] : live) {
    ASSERT_TRUE(stamp_intact(p, bytes));
    pool.deallocate(p);
  }
  PoolNodeStats end = total(pool);
  EXPECT_EQ(end.bytes_in_use, 0u);
  EXPECT_EQ(end.frees, allocated);
  EXPECT_EQ(end.remote_frees, 0u);
  EXPECT_GE(pool.statistics()[0].peak_bytes, mid.bytes_in_use);
}

// A mailbox per thread: blocks another thread must free.
struct Mailbox {
  std::mutex mutex;
  std::vector<std::pair<void*, std::size_t>> blocks;
};

// Runs `threads` threads of kOpsPerThread mixed allocations and frees each; a third of the frees
// are handed to another thread's mailbox. Checks every block's stamp before it is freed.
void mixed_cross_thread_run(NumaPool& pool, unsigned threads) {
  std::vector<Mailbox> boxes(threads);
  std::atomic<unsigned> done{0};
  std::atomic<bool> corrupt{false};
  std::vector<std::thread> pool_threads;
  for (unsigned t = 0; t < threads; ++t) {
    pool_threads.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      std::vector<std::pair<void*, std::size_t>> live;
      std::vector<std::pair<void*, std::size_t>> inbox;
      auto free_checked = [&](std::pair<void*, std::size_t> b) {
        if (!stamp_intact(b.first, std::min<std::size_t>(b.second, 64))) corrupt = true;
        pool.deallocate(b.first);
      };
      for (std::size_t op = 0; op < kOpsPerThread; ++op) {
        if (live.size() < 2000 && (live.empty() || rng() % 2 == 0)) {
          std::size_t bytes = rng() % 16 == 0 ? 1 + rng() % 4096 : 8 + rng() % 248;
          void* p = pool.allocate(bytes);
          stamp(p, std::min<std::size_t>(bytes, 64));
          live.emplace_back(p, std::min<std::size_t>(bytes, 64));
        } else {
          std::size_t i = rng() % live.size();
          auto b = live[i];
          live[i] = live.back();
          live.pop_back();
          if (rng() % 3 == 0) {
            Mailbox& box = boxes[(t + 1 + rng() % (threads - 1)) % threads];
            std::lock_guard lock(box.mutex);
            box.blocks.push_back(b);
          } else {
            free_checked(b);
          }
        }
        if (op % 256 == 0) {
          {
            std::lock_guard lock(boxes[t].mutex);
            inbox.swap(boxes[t].blocks);
          }
          for (auto b : inbox) free_checked(b);
          inbox.clear();
        }
      }
      for (auto b : live) free_checked(b);
      done.fetch_add(1);
      // Keep draining until every thread has stopped sending.
      while (true) {
        bool all_done = done.load() == threads;
        {
          std::lock_guard lock(boxes[t].mutex);
          inbox.swap(boxes[t].blocks);
        }
        for (auto b : inbox) free_checked(b);
        inbox.clear();
        if (all_done) break;
        std::this_thread::yield();
      }
    });
  }
  for (auto& th : pool_threads) th.join();
  EXPECT_FALSE(corrupt.load());
}

// Proves 2, 3 and 4 threads doing millions of mixed allocations and frees, a third of the frees
// on another thread, corrupt no block, and the statistics balance to zero with remote frees
// counted once the threads are gone.
TEST(NumaPool, MixedAllocFreeWithCrossThreadFrees) {
  Topology topo = Topology::load();
  for (unsigned threads : {2u, 3u, 4u}) {
    NumaPool pool(topo);
    mixed_cross_thread_run(pool, threads);
    pool.reclaim();
    PoolNodeStats t = total(pool);
    EXPECT_EQ(t.bytes_in_use, 0u) << threads;
    EXPECT_EQ(t.allocations, t.frees) << threads;
    EXPECT_GT(t.remote_frees, 0u) << threads;
    EXPECT_GE(t.allocations, threads * kOpsPerThread / 3) << threads;
    EXPECT_EQ(t.heaps, 0u) << threads;
    EXPECT_EQ(t.abandoned_heaps, 0u) << threads;
  }
}

// Proves a thread may exit with live blocks: another thread frees them later, and the exited
// thread's heap is reclaimed (no abandoned heap left, statistics at zero).
TEST(NumaPool, ThreadExitWithLiveBlocksFreedLater) {
  Topology topo = Topology::load();
  NumaPool pool(topo);
  std::vector<void*> orphans;
  std::thread([&] {
    for (int i = 0; i < 10'000; ++i) {
      void* p = pool.allocate(static_cast<std::size_t>(16 + (i % 64) * 16));
      stamp(p, 16);
      orphans.push_back(p);
    }
  }).join();
  PoolNodeStats after_exit = total(pool);
  EXPECT_EQ(after_exit.abandoned_heaps, 1u);
  EXPECT_EQ(after_exit.heaps, 0u);
  EXPECT_GT(after_exit.bytes_in_use, 0u);
  std::thread([&] {
    for (void* p : orphans) {
      EXPECT_TRUE(stamp_intact(p, 16));
      pool.deallocate(p);
    }
  }).join();
  pool.reclaim();
  PoolNodeStats end = total(pool);
  EXPECT_EQ(end.bytes_in_use, 0u);
  EXPECT_EQ(end.remote_frees, 10'000u);
  EXPECT_EQ(end.abandoned_heaps, 0u);
  EXPECT_EQ(pool.statistics()[0].span_bytes, pool.statistics()[0].span_bytes);
}

// Proves trim() gives the pages of free spans back to the OS once an exited thread's blocks are
// all freed, and the pool keeps working on the same memory afterwards.
TEST(NumaPool, TrimReleasesFreeSpans) {
  Topology topo = Topology::load();
  NumaPool pool(topo);
  std::vector<void*> blocks;
  std::thread([&] {
    for (int i = 0; i < 20'000; ++i) blocks.push_back(pool.allocate(512));
  }).join();
  for (void* p : blocks) pool.deallocate(p);
  EXPECT_GE(pool.trim(), 20'000u * 512);
  EXPECT_EQ(total(pool).bytes_in_use, 0u);
  void* p = pool.allocate(512);
  stamp(p, 512);
  EXPECT_TRUE(stamp_intact(p, 512));
  pool.deallocate(p);
}

// Proves mid-size blocks (32 KiB - 1 MiB) come from the pool's own spans: live blocks of mixed
// classes never overlap, the node's statistics count them at class size, and everything
// balances to zero.
TEST(NumaPoolMidSize, LiveBlocksDoNotOverlapAndStatsCountThem) {
  Topology topo = Topology::load();
  NumaPool pool(topo);
  std::vector<std::pair<void*, std::size_t>> live;
  std::uint64_t class_bytes = 0;
  for (std::size_t bytes :
       {32'769u, 48u * 1024, 100'000u, 128u * 1024, 300'000u, 512u * 1024, 1024u * 1024}) {
    for (int i = 0; i < 3; ++i) {
      void* p = pool.allocate(bytes);
      ASSERT_TRUE(pool.owns(p));
      stamp(p, bytes);
      class_bytes += NumaPool::block_bytes(p);
      live.emplace_back(p, bytes);
    }
  }
  const unsigned node = pool.current_node();
  EXPECT_EQ(pool.statistics()[node].bytes_in_use, class_bytes);
  EXPECT_EQ(pool.statistics()[node].allocations, live.size());
  EXPECT_GE(pool.statistics()[node].span_bytes, class_bytes);
  std::sort(live.begin(), live.end());
  for (std::size_t i = 0; i < live.size(); ++i) {
    EXPECT_TRUE(stamp_intact(live[i].first, live[i].second)) << live[i].second;
    if (i + 1 < live.size()) {
      ASSERT_LE(static_cast<std::byte*>(live[i].first) + live[i].second,
                static_cast<std::byte*>(live[i + 1].first));
    }
  }
  for (auto [p, bytes] : live) pool.deallocate(p);
  EXPECT_EQ(pool.statistics()[node].bytes_in_use, 0u);
  EXPECT_EQ(pool.statistics()[node].frees, live.size());
}

// Proves mid-size blocks freed by another thread go back to the owner through its remote list:
// counted as remote frees, intact until freed, and reused by the owner afterwards.
TEST(NumaPoolMidSize, CrossThreadFreesReturnToTheOwner) {
  Topology topo = Topology::load();
  NumaPool pool(topo);
  constexpr std::size_t kBlocks = 64;  // three spans of 31 blocks: remote frees reach several
  constexpr std::size_t kBytes = 128 * 1024;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < kBlocks; ++i) {
    blocks.push_back(pool.allocate(kBytes));
    stamp(blocks.back(), kBytes);
  }
  std::thread([&] {
    for (void* p : blocks) {
      EXPECT_TRUE(stamp_intact(p, kBytes));
      pool.deallocate(p);
    }
  }).join();
  // The owner takes its remote list when its current span runs dry: allocate the same again.
  std::vector<void*> again;
  for (std::size_t i = 0; i < kBlocks; ++i) again.push_back(pool.allocate(kBytes));
  std::sort(blocks.begin(), blocks.end());
  std::size_t reused = 0;
  for (void* p : again) reused += std::binary_search(blocks.begin(), blocks.end(), p) ? 1 : 0;
  EXPECT_GT(reused, 0u);
  for (void* p : again) pool.deallocate(p);
  pool.reclaim();
  PoolNodeStats t = total(pool);
  EXPECT_EQ(t.remote_frees, kBlocks);
  EXPECT_EQ(t.bytes_in_use, 0u);
  EXPECT_EQ(t.allocations, 2 * kBlocks);
}

// Proves 2 threads doing mixed mid-size allocations, handing blocks to each other to free,
// corrupt no block, count exactly the frees made by a thread other than the allocating one as
// remote, and balance to zero (the ThreadSanitizer run checks the handover).
TEST(NumaPoolMidSize, ConcurrentMixedWithRemoteFrees) {
  Topology topo = Topology::load();
  NumaPool pool(topo);
  struct Handed {
    void* block;
    unsigned owner;
  };
  std::mutex handoff_mutex;
  std::vector<Handed> handoff;
  std::atomic<std::uint64_t> foreign_frees{0};
  auto work = [&](unsigned me) {
    std::mt19937_64 rng(me);
    std::vector<void*> mine;
    for (int i = 0; i < 2'000; ++i) {
      std::size_t bytes = 32'769 + rng() % (NumaPool::kLargestClassBytes - 32'768);
      void* p = pool.allocate(bytes);
      std::memset(p, static_cast<int>(me), 64);
      mine.push_back(p);
      if (mine.size() > 16) {
        std::size_t k = rng() % mine.size();
        std::lock_guard lock(handoff_mutex);
        handoff.push_back({mine[k], me});
        mine[k] = mine.back();
        mine.pop_back();
      }
      std::vector<Handed> taken;
      {
        std::lock_guard lock(handoff_mutex);
        if (handoff.size() > 8) taken.swap(handoff);
      }
      for (Handed h : taken) {
        if (h.owner != me) foreign_frees.fetch_add(1);
        pool.deallocate(h.block);
      }
    }
    for (void* q : mine) pool.deallocate(q);
  };
  std::thread a(work, 1), b(work, 2);
  a.join();
  b.join();
  for (Handed h : handoff) pool.deallocate(h.block);
  foreign_frees += handoff.size();
  pool.reclaim();
  PoolNodeStats t = total(pool);
  EXPECT_EQ(t.bytes_in_use, 0u);
  EXPECT_EQ(t.allocations, 4'000u);
  EXPECT_EQ(t.frees, 4'000u);
  EXPECT_EQ(t.remote_frees, foreign_frees.load());
}

// Proves trim() gives the pages of freed mid-size blocks back to the OS: before it the blocks'
// pages are resident, after it pagemap shows them gone, and the pool serves them again.
TEST(NumaPoolMidSize, TrimReturnsThePages) {
  Topology topo = Topology::load();
  NumaPool pool(topo);
  constexpr std::size_t kBytes = 256 * 1024;
  std::vector<void*> blocks;
  for (int i = 0; i < 64; ++i) {  // 16 MiB: four mid-size spans
    blocks.push_back(pool.allocate(kBytes));
    std::memset(blocks.back(), 1, kBytes);
  }
  auto resident = [&] {
    std::size_t pages = 0;
    for (void* p : blocks) {
      for (const auto& e : strata::test::page_entries(p, kBytes)) pages += e.present ? 1 : 0;
    }
    return pages;
  };
  const std::size_t before = resident();
  if (strata::test::page_entries(blocks[0], 4096).empty()) GTEST_SKIP() << "no pagemap";
  EXPECT_EQ(before, 64 * kBytes / 4096);
  for (void* p : blocks) pool.deallocate(p);
  // 15 blocks fit a span: the last 4 are in the current span, which the heap keeps.
  EXPECT_GE(pool.trim(), 60 * kBytes);
  EXPECT_LE(resident(), 4 * kBytes / 4096);
  void* p = pool.allocate(kBytes);
  stamp(p, kBytes);
  EXPECT_TRUE(stamp_intact(p, kBytes));
  pool.deallocate(p);
}

// Proves the next thread on the node adopts an exited thread's heap: it frees the orphaned
// blocks as its own (no remote frees) and keeps allocating from the same spans.
TEST(NumaPool, NextThreadAdoptsAnExitedThreadsHeap) {
  Topology topo = Topology::load();
  if (topo.numa_nodes().size() != 1) GTEST_SKIP() << "adoption is per node; one node here";
  NumaPool pool(topo);
  std::vector<void*> orphans;
  std::thread([&] {
    for (int i = 0; i < 1000; ++i) orphans.push_back(pool.allocate(64));
  }).join();
  std::thread([&] {
    void* mine = pool.allocate(64);  // adopts
    EXPECT_EQ(total(pool).abandoned_heaps, 0u);
    for (void* p : orphans) pool.deallocate(p);
    pool.deallocate(mine);
    EXPECT_EQ(total(pool).remote_frees, 0u);
    EXPECT_EQ(total(pool).bytes_in_use, 0u);
  }).join();
}

// Proves the pool outlives no thread and no thread outlives it by contract: a pool destroyed
// while a thread that used it is still running leaves that thread able to use a new pool.
TEST(NumaPool, ThreadOutlivesPool) {
  Topology topo = Topology::load();
  auto first = std::make_unique<NumaPool>(topo);
  std::atomic<int> step{0};
  std::thread worker([&] {
    void* p = first->allocate(100);
    first->deallocate(p);
    step = 1;
    while (step.load() != 2) std::this_thread::yield();
    NumaPool second(topo);
    void* q = second.allocate(100);
    second.deallocate(q);
    EXPECT_EQ(total(second).allocations, 1u);
  });
  while (step.load() != 1) std::this_thread::yield();
  first.reset();
  step = 2;
  worker.join();
}

// Proves on a synthetic two-node topology a thread on the second node's CPU gets its heap on
// node 1 and its blocks are counted there.
TEST(NumaPool, HeapIsOnTheThreadsNode) {
  Topology topo = Topology::synthetic("pack:2 numa:1 core:1 pu:1");
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || !CPU_ISSET(1, &allowed)) {
    GTEST_SKIP() << "needs CPU 1";
  }
  NumaPool pool(topo);
  std::thread([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(1, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    void* p = pool.allocate(256);
    EXPECT_EQ(pool.current_node(), 1u);
    auto stats = pool.statistics();
    ASSERT_EQ(stats.size(), 2u);
    EXPECT_EQ(stats[1].bytes_in_use, 256u);
    EXPECT_EQ(stats[0].bytes_in_use, 0u);
    pool.deallocate(p);
  }).join();
}

// Proves std::pmr containers run on the pool resource: a vector that grows past 32 KiB (its
// large buffers go upstream) and an unordered_map of pmr strings, all freed at the end.
TEST(NumaPoolResource, PmrContainers) {
  Topology topo = Topology::load();
  NumaPool pool(topo);
  strata::NumaPoolResource resource(pool);
  {
    std::pmr::vector<int> v(&resource);
    for (int i = 0; i < 100'000; ++i) v.push_back(i);
    EXPECT_EQ(v[99'999], 99'999);
    std::pmr::unordered_map<int, std::pmr::string> m(&resource);
    for (int i = 0; i < 5000; ++i)
      m.emplace(i, std::pmr::string(40, static_cast<char>('a' + i % 26)));
    EXPECT_EQ(std::string_view(m.at(4321)), std::string(40, static_cast<char>('a' + 4321 % 26)));
    EXPECT_GT(total(pool).bytes_in_use, 5000u * 40);
  }
  EXPECT_EQ(total(pool).bytes_in_use, 0u);
  EXPECT_TRUE(resource.is_equal(resource));
  strata::NumaPoolResource other(pool);
  EXPECT_FALSE(resource.is_equal(other));
}

// Proves the MemoryManager sends small requests to its pool on the caller's node and its pmr
// resource serves std::pmr containers with the same routing.
TEST(NumaPoolResource, MemoryManagerRoutesSmallRequestsToThePool) {
  Topology topo = Topology::load();
  strata::MemoryManager mm(topo);
  void* p = mm.allocate(200);
  EXPECT_TRUE(mm.pool().owns(p));
  void* big = mm.allocate(2'000'000);
  EXPECT_FALSE(mm.pool().owns(big));
  EXPECT_EQ(total(mm.pool()).bytes_in_use, 256u);
  {
    std::pmr::vector<double> v(&mm.resource());
    v.assign(1000, 2.0);
    EXPECT_TRUE(mm.pool().owns(v.data()));
  }
  mm.deallocate(p, 200);
  mm.deallocate(big, 2'000'000);
  EXPECT_EQ(total(mm.pool()).bytes_in_use, 0u);
  EXPECT_EQ(mm.statistics()[0].small_bytes, 0u);
}

}  // namespace
