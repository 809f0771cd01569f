// SPDX-License-Identifier: Apache-2.0
// Tests of HandleArena: generation-checked handles (stale after free, also when the slot is
// reused), compaction and promotion that move objects but keep every handle valid, growth of
// the slow tier, the typed front end, and a file-backed slow tier that spills to disk.
#include "strata/runtime/memory/handle_arena.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <unordered_map>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::Handle;
using strata::HandleArena;
using strata::HandleState;

struct Cell {
  std::uint64_t id;
  double mass;
  std::uint64_t check;
};

void fill(HandleArena& arena, Handle h, std::uint64_t seed) {
  auto* p = static_cast<std::uint64_t*>(arena.try_get(h));
  std::size_t words = arena.size_of(h) / 8;
  for (std::size_t i = 0; i < words; ++i) p[i] = seed * 1000003 + i;
}
bool intact(const HandleArena& arena, Handle h, std::uint64_t seed) {
  const auto* p = static_cast<const std::uint64_t*>(arena.try_get(h));
  if (p == nullptr) return false;
  std::size_t words = arena.size_of(h) / 8;
  for (std::size_t i = 0; i < words; ++i) {
    if (p[i] != seed * 1000003 + i) return false;
  }
  return true;
}

// Proves a handle is valid until freed, then stale for try_get, is_valid and state — also after
// its slot is reused by a new object — and that the null handle is never valid.
TEST(HandleArena, GenerationsMakeFreedHandlesStale) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  HandleArena arena(mm, {.fast_bytes = 1 << 20, .slow_bytes = 1 << 20});
  Handle a = arena.allocate(64);
  EXPECT_TRUE(arena.is_valid(a));
  EXPECT_EQ(arena.state(a), HandleState::fast);
  EXPECT_EQ(arena.size_of(a), 64u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(arena.try_get(a)) % HandleArena::kAlignment, 0u);
  EXPECT_TRUE(arena.free(a));
  EXPECT_FALSE(arena.free(a));
  EXPECT_EQ(arena.try_get(a), nullptr);
  EXPECT_EQ(arena.state(a), HandleState::invalid);
  Handle b = arena.allocate(64);  // reuses the slot with a new generation
  EXPECT_EQ(b.index, a.index);
  EXPECT_NE(b.generation, a.generation);
  EXPECT_FALSE(arena.is_valid(a));
  EXPECT_TRUE(arena.is_valid(b));
  EXPECT_FALSE(arena.is_valid(Handle{}));
  EXPECT_FALSE(arena.is_valid(Handle{12345, 1}));
  EXPECT_THROW(arena.allocate(0), strata::Error);
}

// Proves an object above fast_bytes / kLargeFraction goes straight to the slow tier (growing it)
// with its bytes intact, one of more than 4 GiB, tiers under 64 KiB and a promote_after past
// kMaxPromoteAfter (whose age a slot cannot count) are refused with strata::Error, and a refused
// allocation leaves no object behind.
TEST(HandleArena, LargeObjectsGoSlowAndBadSizesAreRefused) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  HandleArena arena(mm, {.fast_bytes = 1 << 20, .slow_bytes = 64 << 10});
  Handle small = arena.allocate((1 << 20) / HandleArena::kLargeFraction - 64);
  EXPECT_EQ(arena.state(small), HandleState::fast);
  Handle large = arena.allocate((1 << 20) / HandleArena::kLargeFraction);
  EXPECT_EQ(arena.state(large), HandleState::slow);
  fill(arena, large, 3);
  EXPECT_TRUE(intact(arena, large, 3));
  EXPECT_GE(arena.statistics().slow_capacity_bytes, (std::size_t{1} << 20) / 4);
  EXPECT_THROW(arena.allocate(std::size_t{1} << 32), strata::Error);
  EXPECT_EQ(arena.statistics().fast_objects + arena.statistics().slow_objects, 2u);
  EXPECT_THROW(HandleArena(mm, {.fast_bytes = 1024}), strata::Error);
  EXPECT_THROW(HandleArena(mm, {.promote_after = HandleArena::kMaxPromoteAfter + 1}), strata::Error);
  EXPECT_NO_THROW(HandleArena(mm, {.promote_after = HandleArena::kMaxPromoteAfter}));
}

// Proves tens of thousands of allocations and frees in a small fast tier force compactions,
// promotions and slow-tier growth, every live object keeps its contents under its handle, and
// every freed handle is stale.
TEST(HandleArena, CompactionPromotionAndGrowthKeepHandlesValid) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  HandleArena arena(mm, {.fast_bytes = 256 << 10,
                         .slow_bytes = 64 << 10,
                         .promote_after = 1,
                         .slow_compact_garbage = 0});  // compact() always squeezes the slow tier
  std::mt19937_64 rng(7);
  std::unordered_map<std::uint64_t, Handle> live;  // seed -> handle
  std::vector<Handle> dead;
  for (std::uint64_t seed = 1; seed <= 40'000; ++seed) {
    Handle h = arena.allocate(8 * (1 + rng() % 64));
    fill(arena, h, seed);
    live.emplace(seed, h);
    if (rng() % 4 != 0) {  // three in four die young
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng() % std::min<std::size_t>(live.size(), 8)));
      ASSERT_TRUE(intact(arena, it->second, it->first));
      ASSERT_TRUE(arena.free(it->second));
      dead.push_back(it->second);
      live.erase(it);
    }
  }
  auto stats = arena.statistics();
  EXPECT_GT(stats.compactions, 0u);
  EXPECT_GT(stats.promotions, 0u);
  EXPECT_GT(stats.relocations, 0u);
  EXPECT_GT(stats.slow_capacity_bytes, std::size_t{64} << 10);  // grew
  EXPECT_EQ(stats.fast_objects + stats.slow_objects, live.size());
  arena.compact();
  EXPECT_EQ(arena.statistics().slow_used_bytes, arena.statistics().slow_live_bytes);
  for (const auto& [seed, h] : live) ASSERT_TRUE(intact(arena, h, seed)) << seed;
  for (Handle h : dead) ASSERT_FALSE(arena.is_valid(h));
}

// Proves the lane and compaction knobs: slow_lane_bytes routes objects of that size and above
// to the slow tier; with auto_compact off a full fast tier sends new objects to the slow tier
// and nothing is compacted until compact(); compact() leaves a slow tier with fewer holes than
// slow_compact_garbage unmoved and copies it past that; fractions outside their range are
// refused.
TEST(HandleArena, KnobsSwitchLanesAndGateCompaction) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  HandleArena lanes(mm, {.fast_bytes = 1 << 20, .slow_bytes = 1 << 20, .slow_lane_bytes = 256});
  EXPECT_EQ(lanes.state(lanes.allocate(255)), HandleState::fast);
  EXPECT_EQ(lanes.state(lanes.allocate(256)), HandleState::slow);

  HandleArena manual(mm, {.fast_bytes = 64 << 10, .slow_bytes = 1 << 20, .auto_compact = false});
  std::vector<Handle> handles;
  for (int i = 0; i < 1000; ++i) handles.push_back(manual.allocate(1024));  // 1 MiB > 64 KiB
  EXPECT_EQ(manual.statistics().compactions, 0u);
  EXPECT_EQ(manual.state(handles.front()), HandleState::fast);
  EXPECT_EQ(manual.state(handles.back()), HandleState::slow);

  HandleArena gated(mm, {.fast_bytes = 64 << 10, .slow_bytes = 1 << 20});  // garbage 0.25
  std::vector<Handle> old;
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    old.push_back(gated.allocate(256));
    fill(gated, old.back(), seed);
    ASSERT_TRUE(gated.promote(old.back()));
  }
  const void* before = gated.try_get(old[50]);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(gated.free(old[static_cast<std::size_t>(i)]));
  gated.compact();  // 10 % holes: left alone
  EXPECT_EQ(gated.try_get(old[50]), before);
  for (int i = 10; i < 40; ++i) ASSERT_TRUE(gated.free(old[static_cast<std::size_t>(i)]));
  gated.compact();  // 40 % holes: copied together
  EXPECT_NE(gated.try_get(old[50]), before);
  EXPECT_EQ(gated.statistics().slow_used_bytes, gated.statistics().slow_live_bytes);
  for (std::uint64_t seed = 41; seed <= 100; ++seed)
    EXPECT_TRUE(intact(gated, old[seed - 1], seed));

  EXPECT_THROW(HandleArena(mm, {.compact_at = 0}), strata::Error);
  EXPECT_THROW(HandleArena(mm, {.slow_usage_limit = 1.5}), strata::Error);
  EXPECT_THROW(HandleArena(mm, {.slow_compact_garbage = 1}), strata::Error);
}

// Proves the typed front end constructs, reads and destroys objects, and promote() moves one to
// the slow tier with its value.
TEST(HandleArena, TypedFrontEndAndExplicitPromotion) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  HandleArena arena(mm, {.fast_bytes = 1 << 20, .slow_bytes = 1 << 20});
  strata::TypedHandleArena<Cell> cells(arena);
  auto h = cells.make(Cell{7, 1.5, 99});
  ASSERT_NE(cells.try_get(h), nullptr);
  cells.try_get(h)->mass += 1.0;
  EXPECT_EQ(cells.state(h), HandleState::fast);
  EXPECT_TRUE(cells.promote(h));
  EXPECT_EQ(cells.state(h), HandleState::slow);
  EXPECT_EQ(cells.try_get(h)->mass, 2.5);
  EXPECT_EQ(cells.try_get(h)->check, 99u);
  EXPECT_TRUE(cells.destroy(h));
  EXPECT_FALSE(cells.is_valid(h));
  EXPECT_EQ(cells.try_get(h), nullptr);
}

// Proves a file-backed slow tier keeps objects across growth, and spill() drops its pages from
// RAM (resident bytes fall) while the objects read back intact from the file; the file goes
// with the arena.
TEST(HandleArena, FileBackedSlowTierSpillsToDisk) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  auto file = std::filesystem::temp_directory_path() /
              ("strata_handle_arena_" + std::to_string(::getpid()) + ".slow");
  {
    HandleArena arena(mm,
                      {.fast_bytes = 1 << 20, .slow_bytes = 1 << 20, .slow_file = file.string()});
    std::vector<Handle> handles;
    for (std::uint64_t seed = 1; seed <= 600; ++seed) {
      Handle h = arena.allocate(4096);
      fill(arena, h, seed);
      ASSERT_TRUE(arena.promote(h));
      handles.push_back(h);
    }
    EXPECT_GT(arena.statistics().slow_capacity_bytes, std::size_t{1} << 20);  // grew, same file
    EXPECT_TRUE(std::filesystem::exists(file));
    std::uint64_t before = arena.slow_region().page_report().resident_bytes;
    EXPECT_GT(arena.spill(), 0u);
    std::uint64_t after = arena.slow_region().page_report().resident_bytes;
    EXPECT_LT(after, before / 2) << "spill left the slow tier resident";
    for (std::uint64_t seed = 1; seed <= 600; ++seed) {
      ASSERT_TRUE(intact(arena, handles[seed - 1], seed)) << seed;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(file));
}

}  // namespace
