// SPDX-License-Identifier: Apache-2.0
// Tests of HandleArena under many threads: mixed allocate/get/free/promote with compactions
// running, every object checked against a pattern derived from its own handle; stale handles
// rejected while their slots are reused; a reader's pointer surviving a compaction that moves
// its object; and writes through write guards never lost to a concurrent relocation. Also run
// under ThreadSanitizer (strata_concurrency_tests).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/memory/handle_arena.hpp"

namespace {

using strata::Handle;
using strata::HandleArena;

// The n-th word of the pattern an object holds: a function of its handle, so a lookup that
// returned another object's bytes (another slot, or a later generation of the same slot) fails.
std::uint64_t pattern(Handle h, std::size_t n) {
  const std::uint64_t key = (std::uint64_t{h.index} << 32) | h.generation;
  return (key + 1) * 0x9E3779B97F4A7C15ULL + n * 0xBF58476D1CE4E5B9ULL;
}

Handle allocate_with_pattern(HandleArena& arena, std::size_t words) {
  Handle h = arena.allocate(words * 8);
  HandleArena::WriteGuard w = arena.write(h);
  auto* p = static_cast<std::uint64_t*>(w.data());
  for (std::size_t n = 0; n < words; ++n) p[n] = pattern(h, n);
  return h;
}

// True when `p` holds h's pattern over the object's whole size.
bool holds_pattern(const void* p, Handle h, std::size_t bytes) {
  const auto* words = static_cast<const std::uint64_t*>(p);
  for (std::size_t n = 0; n < bytes / 8; ++n) {
    if (words[n] != pattern(h, n)) return false;
  }
  return true;
}

std::uint64_t pack(Handle h) { return (std::uint64_t{h.index} << 32) | h.generation; }
Handle unpack(std::uint64_t v) {
  return Handle{static_cast<std::uint32_t>(v >> 32), static_cast<std::uint32_t>(v)};
}

constexpr unsigned kThreads = 4;

// Proves N threads allocating, reading (their own and others' published objects), freeing and
// promoting, while one of them also compacts, see every live object with its own pattern; see
// a freed object's lookup return null or its own last bytes, never another's; find their stale
// handles invalid after the slots were reused; and leave the arena's counts equal to what is
// live. Fails if a lookup mixes up slots or generations, or a relocation loses bytes.
TEST(HandleArenaConcurrency, MixedOperationsWithCompactionsKeepEveryObjectIntact) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  HandleArena arena(mm, {.fast_bytes = 128 << 10, .slow_bytes = 64 << 10, .promote_after = 1});
  constexpr std::size_t kPublished = 64;
  std::array<std::atomic<std::uint64_t>, kPublished> published{};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> reused_slots{0};
  std::atomic<std::uint64_t> foreign_reads{0};
  std::vector<std::vector<Handle>> live(kThreads);

  auto worker = [&](unsigned t) {
    std::mt19937_64 rng(t + 1);
    std::vector<Handle>& mine = live[t];
    std::vector<Handle> stale;
    for (int op = 0; op < 6000; ++op) {
      const unsigned dice = static_cast<unsigned>(rng() % 100);
      if (dice < 30 || mine.empty()) {
        Handle h = allocate_with_pattern(arena, 1 + rng() % 48);
        if (h.generation > 1) reused_slots.fetch_add(1, std::memory_order_relaxed);
        mine.push_back(h);
        published[rng() % kPublished].store(pack(h), std::memory_order_release);
      } else if (dice < 55) {
        const std::size_t i = rng() % mine.size();
        Handle h = mine[i];
        if (!arena.free(h)) failures.fetch_add(1);
        mine[i] = mine.back();
        mine.pop_back();
        stale.push_back(h);
        if (stale.size() > 32) stale.erase(stale.begin());
      } else if (dice < 85) {
        // Read one of ours and one anyone published: live ones must hold their own pattern; a
        // published one may have been freed meanwhile (null, or its own last bytes).
        auto guard = arena.read();
        Handle h = mine[rng() % mine.size()];
        const void* p = arena.get(guard, h);
        if (p == nullptr || !holds_pattern(p, h, arena.size_of(h))) failures.fetch_add(1);
        Handle other = unpack(published[rng() % kPublished].load(std::memory_order_acquire));
        if (const void* q = arena.get(guard, other)) {
          foreign_reads.fetch_add(1, std::memory_order_relaxed);
          const std::size_t bytes = arena.size_of(other);
          if (bytes != 0 && !holds_pattern(q, other, bytes)) failures.fetch_add(1);
        }
      } else if (dice < 92) {
        for (Handle h : stale) {
          auto guard = arena.read();
          if (arena.get(guard, h) != nullptr || arena.is_valid(h) || arena.write(h)) {
            failures.fetch_add(1);
          }
        }
      } else if (dice < 97) {
        if (!arena.promote(mine[rng() % mine.size()])) failures.fetch_add(1);
      } else if (t == 0) {
        arena.compact();
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();

  EXPECT_EQ(failures.load(), 0u);
  EXPECT_GT(reused_slots.load(), 0u);
  EXPECT_GT(foreign_reads.load(), 0u);
  auto stats = arena.statistics();
  EXPECT_GT(stats.compactions, 0u);
  EXPECT_GT(stats.promotions, 0u);
  EXPECT_GT(stats.relocations, 0u);
  std::size_t total = 0;
  auto guard = arena.read();
  for (const auto& mine : live) {
    total += mine.size();
    for (Handle h : mine) {
      const void* p = arena.get(guard, h);
      ASSERT_NE(p, nullptr);
      ASSERT_TRUE(holds_pattern(p, h, arena.size_of(h)));
    }
  }
  EXPECT_EQ(stats.fast_objects + stats.slow_objects, total);
}

// Proves a handle freed and its slot reused at once (same index, next generation) is rejected by
// get, write and is_valid on other threads while it happens, with compactions moving the new
// object: a reader never gets the new object's bytes through the old handle. Fails if the
// generation check were skipped or read apart from the address.
TEST(HandleArenaConcurrency, StaleHandleAfterFreeAndReuseIsRejected) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  HandleArena arena(mm, {.fast_bytes = 64 << 10, .slow_bytes = 64 << 10});
  std::atomic<std::uint64_t> current{pack(allocate_with_pattern(arena, 8))};
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> failures{0}, stale_checks{0}, reuses{0};
  std::atomic<int> readers_started{0};

  std::thread churn([&] {
    while (readers_started.load() < 2) std::this_thread::yield();
    // At least 2,000 rounds, and on until the readers have seen 300 handles go stale (the
    // machine may run the readers late); bounded in case they never get a CPU.
    for (int i = 0; i < 2000 || (stale_checks.load() < 300 && i < 100'000); ++i) {
      Handle old = unpack(current.load());
      ASSERT_TRUE(arena.free(old));
      Handle fresh = allocate_with_pattern(arena, 8);
      if (fresh.index == old.index) reuses.fetch_add(1);
      current.store(pack(fresh), std::memory_order_release);
      if (i % 200 == 0) arena.compact();
    }
    stop.store(true);
  });
  auto reader = [&] {
    Handle previous{};
    readers_started.fetch_add(1);
    while (!stop.load(std::memory_order_acquire)) {
      Handle h = unpack(current.load(std::memory_order_acquire));
      auto guard = arena.read();
      if (const void* p = arena.get(guard, h); p != nullptr && !holds_pattern(p, h, 64)) {
        failures.fetch_add(1);
      }
      if (previous && previous != h) {
        // Freed before `h` was made: stale for good, whatever now lives in its slot.
        if (arena.get(guard, previous) != nullptr || arena.is_valid(previous)) {
          failures.fetch_add(1);
        }
        stale_checks.fetch_add(1, std::memory_order_relaxed);
      }
      previous = h;
    }
  };
  std::thread r1(reader), r2(reader);
  churn.join();
  r1.join();
  r2.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_GT(stale_checks.load(), 0u);
  EXPECT_GT(reuses.load(), 0u);
}

// Proves a pointer from get() stays readable, with the object's bytes, for as long as its read
// guard lives although another thread's compaction moved the object meanwhile (the handle now
// leads elsewhere); the old copy is freed only after the guard ends. Fails if compaction
// overwrote or unmapped memory a reader still held.
TEST(HandleArenaConcurrency, ReaderPointerSurvivesACompactionThatMovesItsObject) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  HandleArena arena(mm, {.fast_bytes = 64 << 10, .slow_bytes = 64 << 10});
  Handle dead = allocate_with_pattern(arena, 8);
  Handle h = allocate_with_pattern(arena, 8);
  ASSERT_TRUE(arena.free(dead));  // so compaction slides h down
  std::atomic<int> phase{0};
  std::thread compactor([&] {
    while (phase.load() != 1) std::this_thread::yield();
    arena.compact();
    phase.store(2);
  });
  {
    auto guard = arena.read();
    const void* before = arena.get(guard, h);
    ASSERT_NE(before, nullptr);
    phase.store(1);
    while (phase.load() != 2) std::this_thread::yield();
    EXPECT_TRUE(holds_pattern(before, h, 64));
    auto later = arena.read();
    const void* after = arena.get(later, h);
    EXPECT_NE(after, before) << "the compaction did not move the object";
    EXPECT_TRUE(holds_pattern(after, h, 64));
    EXPECT_GT(arena.domain().pending(), 0u) << "the old copy was not retired through the domain";
  }
  compactor.join();
  arena.domain().synchronize();
  EXPECT_EQ(arena.domain().pending(), 0u);
}

// Proves increments made through write guards by two threads are all kept while a third thread
// compacts and promotes the same objects, and that allocate and compact refuse to run inside a
// write guard on the same arena (they would wait for it). Fails if a relocation copied an object
// while a writer was still writing the copy left behind.
TEST(HandleArenaConcurrency, WritesThroughGuardsAreNotLostToRelocation) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  HandleArena arena(mm, {.fast_bytes = 64 << 10, .slow_bytes = 64 << 10, .promote_after = 3});
  struct Counters {
    std::uint64_t by_thread[2];
  };
  strata::TypedHandleArena<Counters> counters(arena);
  std::vector<strata::TypedHandle<Counters>> objects;
  for (int i = 0; i < 64; ++i) objects.push_back(counters.make(Counters{{0, 0}}));
  constexpr int kRounds = 300;
  std::atomic<bool> writing{true};
  std::thread mover([&] {
    int i = 0;
    while (writing.load()) {
      arena.compact();
      // Garbage in the fast tier, so allocations compact too.
      arena.free(arena.allocate(1024));
      if (++i % 8 == 0) counters.promote(objects[static_cast<std::size_t>(i) % objects.size()]);
    }
  });
  auto writer = [&](int t) {
    for (int round = 0; round < kRounds; ++round) {
      for (auto h : objects) {
        auto w = counters.write(h);
        ASSERT_TRUE(w);
        ++w->by_thread[t];
      }
    }
  };
  std::thread w0(writer, 0), w1(writer, 1);
  w0.join();
  w1.join();
  writing.store(false);
  mover.join();
  EXPECT_GT(arena.statistics().relocations, 0u);
  for (auto h : objects) {
    auto w = counters.write(h);
    EXPECT_EQ(w->by_thread[0], std::uint64_t{kRounds});
    EXPECT_EQ(w->by_thread[1], std::uint64_t{kRounds});
    EXPECT_THROW(arena.allocate(8), strata::Error);
    EXPECT_THROW(arena.compact(), strata::Error);
  }
  EXPECT_NO_THROW(arena.compact());  // no guard held any more
}

}  // namespace
