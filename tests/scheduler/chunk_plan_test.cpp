// SPDX-License-Identifier: Apache-2.0
// Tests of ChunkPlan: partitions on the chunk grid for an even split, chunks cut at the end of a
// placement plan's blocks, and merge-tree subtrees that tile each partition.
#include "strata/scheduler/chunk_plan.hpp"

#include <gtest/gtest.h>

#include <set>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::ChunkPart;
using strata::ChunkPlan;
using strata::MergeSpan;
using strata::PlacementPlan;
using strata::Topology;

// Checks that the plan's chunks tile [0, elements) in order, none longer than a chunk and none
// crossing a grid point, with global chunk indexes running on from part to part.
void expect_chunks_tile(const ChunkPlan& plan) {
  std::size_t next = 0, chunk_index = 0;
  const std::size_t c = plan.chunk_elements();
  for (const ChunkPart& part : plan.parts()) {
    EXPECT_EQ(part.first, next);
    EXPECT_EQ(part.first_chunk, chunk_index);
    for (std::size_t k = 0; k < part.chunks; ++k) {
      auto r = plan.chunk(part, k);
      EXPECT_EQ(r.first, next);
      EXPECT_GT(r.count, 0u);
      EXPECT_EQ(r.first / c, (r.first + r.count - 1) / c) << "chunk crosses a grid point";
      next += r.count;
    }
    EXPECT_EQ(next, part.first + part.count);
    chunk_index += part.chunks;
  }
  EXPECT_EQ(next, plan.elements());
  EXPECT_EQ(chunk_index, plan.chunk_count());
}

// True when [span.lo, span.hi) is a subtree of the merge tree over [0, n).
bool is_subtree(MergeSpan span, std::size_t lo, std::size_t hi) {
  if (span.lo == lo && span.hi == hi) return true;
  if (hi - lo < 2 || span.lo < lo || span.hi > hi) return false;
  std::size_t mid = strata::merge_split(lo, hi);
  return is_subtree(span, lo, mid) || is_subtree(span, mid, hi);
}

void expect_subtrees_tile_parts(const ChunkPlan& plan) {
  for (const ChunkPart& part : plan.parts()) {
    std::size_t next = part.first_chunk;
    for (MergeSpan s : plan.subtrees(part)) {
      EXPECT_EQ(s.lo, next);
      EXPECT_TRUE(is_subtree(s, 0, plan.chunk_count())) << s.lo << ".." << s.hi;
      next = s.hi;
    }
    EXPECT_EQ(next, part.first_chunk + part.chunks);
  }
}

// Proves an even split puts every partition boundary on the chunk grid, so 1, 2 and 4 nodes cut
// the same chunks, with partitions in node order sized by allowed CPUs.
TEST(SchedulerChunkPlan, EvenSplitKeepsTheChunkGridForAnyNodeCount) {
  const std::size_t elements = 10'000, chunk = 64;
  std::set<std::pair<std::size_t, std::size_t>> first_cut;
  for (unsigned n : {1u, 2u, 4u}) {
    SCOPED_TRACE(n);
    Topology topo = Topology::synthetic("pack:" + std::to_string(n) + " numa:1 core:1 pu:1");
    ChunkPlan plan = ChunkPlan::even(topo, elements, chunk);
    ASSERT_EQ(plan.parts().size(), n);
    expect_chunks_tile(plan);
    expect_subtrees_tile_parts(plan);
    EXPECT_EQ(plan.chunk_count(), (elements + chunk - 1) / chunk);
    std::set<std::pair<std::size_t, std::size_t>> cut;
    for (unsigned i = 0; i < n; ++i) {
      const ChunkPart& part = plan.parts()[i];
      EXPECT_EQ(part.node, i);
      EXPECT_EQ(part.first % chunk, 0u);
      for (std::size_t k = 0; k < part.chunks; ++k) {
        auto r = plan.chunk(part, k);
        cut.insert({r.first, r.count});
      }
    }
    if (first_cut.empty()) first_cut = cut;
    EXPECT_EQ(cut, first_cut);
  }
}

// Proves a placement plan's blocks become the partitions, chunks are cut where a block ends off
// the grid, and the next block's chunks return to the grid.
TEST(SchedulerChunkPlan, FollowsPlanBlocksAndCutsAtTheirEnds) {
  Topology topo = Topology::synthetic("pack:2 numa:1 core:1 pu:1");
  // 101 rows of 10 elements: blocks of 51 and 50 rows, the boundary at element 510.
  PlacementPlan placement = PlacementPlan::by_rows(topo, 101, 80);
  ChunkPlan plan = ChunkPlan::follow(placement, 10, 64);
  ASSERT_EQ(plan.parts().size(), 2u);
  expect_chunks_tile(plan);
  expect_subtrees_tile_parts(plan);
  const ChunkPart& second = plan.parts()[1];
  EXPECT_EQ(second.node, 1u);
  EXPECT_EQ(second.first, 510u);
  EXPECT_EQ(plan.chunk(plan.parts()[0], plan.parts()[0].chunks - 1).count, 510u - 448u);
  EXPECT_EQ(plan.chunk(second, 0).count, 512u - 510u);  // back on the grid at 512
  EXPECT_EQ(plan.chunk(second, 1).first, 512u);
  EXPECT_EQ(plan.elements(), 1010u);
}

// Proves empty data has no partitions and no chunks, and a zero chunk size is refused.
TEST(SchedulerChunkPlan, EmptyAndInvalid) {
  Topology topo = Topology::synthetic("pack:2 numa:1 core:1 pu:1");
  ChunkPlan empty = ChunkPlan::even(topo, 0, 64);
  EXPECT_TRUE(empty.parts().empty());
  EXPECT_EQ(empty.chunk_count(), 0u);
  EXPECT_THROW(ChunkPlan::even(topo, 10, 0), strata::Error);
  EXPECT_THROW(ChunkPlan::follow(PlacementPlan::single_node(4, 8, 0), SIZE_MAX, 1), strata::Error);
}

}  // namespace
