// SPDX-License-Identifier: Apache-2.0
// Tests of MemoryManager and Array: arrays placed per node, raw requests routed by size,
// statistics per node that return to zero, and the STL allocator adapter.
#include "strata/runtime/memory/memory_manager.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::MemoryManager;
using strata::Topology;

constexpr std::size_t kMiB = 1 << 20;

std::uint64_t total_in_use(const MemoryManager& mm) {
  std::uint64_t sum = 0;
  for (const auto& n : mm.statistics()) sum += n.bytes_in_use;
  return sum;
}

// Proves an array has the shape, dtype and row-major layout asked for, and rows() gives
// contiguous rows with bounds checking.
TEST(Array, ShapeIndexingAndRows) {
  Topology topo = Topology::load();
  MemoryManager mm(topo);
  auto a = mm.array<double>("a", {3, 4, 5}, {.largest_pages = strata::PageSize::base});
  EXPECT_EQ(a.name(), "a");
  EXPECT_EQ(a.dtype(), strata::DType::f64);
  EXPECT_EQ(a.size(), 60u);
  EXPECT_EQ(a.bytes(), 480u);
  std::iota(a.span().begin(), a.span().end(), 0.0);
  EXPECT_EQ(a(0, 0, 1), 1.0);
  EXPECT_EQ(a(0, 1, 0), 5.0);
  EXPECT_EQ(a(2, 3, 4), 59.0);
  auto r = a.rows(1, 2);
  EXPECT_EQ(r.size(), 40u);
  EXPECT_EQ(r[0], 20.0);
  EXPECT_THROW(a.rows(2, 2), strata::Error);
}

// Proves on this machine a populated array's pages are resident, and on node 0.
TEST(Array, PopulatedArrayIsResidentOnItsNode) {
  Topology topo = Topology::load();
  MemoryManager mm(topo);
  auto a = mm.array<float>("f", {1024, 4096});
  auto where = a.region().residency(32);
  ASSERT_TRUE(where.known);
  EXPECT_EQ(where.not_present, 0u);
  EXPECT_EQ(where.pages_per_node[0], where.sampled);
  EXPECT_EQ(a.plan().blocks().size(), topo.numa_nodes().size());
}

// Proves on a synthetic 4-node topology an array is planned as 4 row blocks, charged per node in
// the statistics, and uncharged when it goes.
TEST(Array, SyntheticFourNodesPlanAndStatistics) {
  Topology topo = Topology::synthetic("pack:4 numa:1 core:1 pu:1");
  MemoryManager mm(topo);
  {
    auto a = mm.array<std::int32_t>("i", {400, 1000}, {.largest_pages = strata::PageSize::base});
    ASSERT_EQ(a.plan().blocks().size(), 4u);
    auto stats = mm.statistics();
    ASSERT_EQ(stats.size(), 4u);
    for (unsigned n = 0; n < 4; ++n) {
      EXPECT_EQ(stats[n].bytes_in_use, 100u * 1000 * 4) << n;
    }
    EXPECT_EQ(stats[0].regions_by_policy[static_cast<int>(strata::PlacementPolicy::preferred)], 1u);
  }
  EXPECT_EQ(total_in_use(mm), 0u);
  auto stats = mm.statistics();
  EXPECT_EQ(stats[1].peak_bytes, 100u * 1000 * 4);
}

// Proves requests up to 1 MiB go to the pool (small classes and the mid-size tier, counted at
// their size class, owned by the pool) and larger ones to placed regions, all counted, all
// aligned, and the statistics return to zero after everything is freed.
TEST(MemoryManager, RoutesBySizeAndBalancesToZero) {
  Topology topo = Topology::load();
  MemoryManager mm(topo);
  std::vector<std::pair<void*, std::size_t>> blocks;
  for (std::size_t bytes : {std::size_t{1}, std::size_t{100}, std::size_t{4096},
                            std::size_t{48 * 1024}, std::size_t{kMiB}, kMiB + 1, 8 * kMiB}) {
    void* p = mm.allocate(bytes, 64);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u);
    std::memset(p, 0xab, bytes);
    blocks.emplace_back(p, bytes);
  }
  auto stats = mm.statistics();
  std::size_t pooled = 0;
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(mm.pool().owns(blocks[i].first)) << blocks[i].second;
    pooled += strata::NumaPool::block_bytes(blocks[i].first);
  }
  EXPECT_FALSE(mm.pool().owns(blocks[5].first));
  // 1 and 100 bytes at 64-byte alignment: classes 64, 128; 48 KiB and 1 MiB are mid-size classes.
  EXPECT_EQ(pooled, 64u + 128 + 4096 + 48 * 1024 + kMiB);
  EXPECT_EQ(stats[0].small_bytes, pooled);
  EXPECT_GE(total_in_use(mm), pooled + kMiB + 1 + 8 * kMiB);
  for (auto [p, bytes] : blocks) mm.deallocate(p, bytes);
  EXPECT_EQ(total_in_use(mm), 0u);
  EXPECT_EQ(mm.statistics()[0].small_bytes, 0u);
  EXPECT_THROW(mm.allocate(8, 3), strata::Error);
}

// Proves the STL adapter draws from the manager (its bytes appear in the statistics).
TEST(MemoryManager, StlAllocatorUsesManager) {
  Topology topo = Topology::load();
  MemoryManager mm(topo);
  {
    std::vector<double, strata::ManagedAllocator<double>> v{strata::ManagedAllocator<double>(mm)};
    v.resize(1000, 1.5);
    EXPECT_GE(total_in_use(mm), 8000u);
    EXPECT_EQ(std::accumulate(v.begin(), v.end(), 0.0), 1500.0);
  }
  EXPECT_EQ(total_in_use(mm), 0u);
}

// Proves an empty array (a zero extent) is valid and owns no memory, and a dtype mismatch is an
// error.
TEST(MemoryManager, EmptyArraysAndDtypeMismatch) {
  Topology topo = Topology::load();
  MemoryManager mm(topo);
  auto a = mm.array<double>("empty", {0, 10});
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(total_in_use(mm), 0u);
  auto storage = mm.allocate_array("x", strata::DType::f32, {4});
  EXPECT_THROW(strata::Array<double>(std::move(storage)), strata::Error);
}

}  // namespace
