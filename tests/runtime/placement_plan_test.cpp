// SPDX-License-Identifier: Apache-2.0
// Tests of PlacementPlan: rows split into one block per NUMA node on 1, 2 and 4 synthetic nodes.
#include "strata/runtime/memory/placement_plan.hpp"

#include <gtest/gtest.h>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::PlacementPlan;
using strata::Topology;

// Checks that blocks tile [0, rows) in order with byte offsets matching their rows.
void expect_tiling(const PlacementPlan& plan, std::size_t rows, std::size_t row_bytes) {
  std::size_t next = 0;
  for (const auto& b : plan.blocks()) {
    EXPECT_EQ(b.first_row, next);
    EXPECT_GT(b.rows, 0u);
    EXPECT_EQ(b.byte_offset, b.first_row * row_bytes);
    EXPECT_EQ(b.bytes, b.rows * row_bytes);
    next += b.rows;
  }
  EXPECT_EQ(next, rows);
}

// Proves rows are split evenly over 1, 2 and 4 nodes with equal CPUs, the remainder going one row
// each to the first blocks, and every row maps to the node of its block.
TEST(PlacementPlan, SplitsRowsEvenlyOverSyntheticNodes) {
  for (unsigned nodes : {1u, 2u, 4u}) {
    Topology topo = Topology::synthetic("pack:" + std::to_string(nodes) + " numa:1 core:2 pu:1");
    SCOPED_TRACE(nodes);
    const std::size_t rows = 1003;
    auto plan = PlacementPlan::by_rows(topo, rows, 80);
    ASSERT_EQ(plan.blocks().size(), nodes);
    expect_tiling(plan, rows, 80);
    for (unsigned i = 0; i < nodes; ++i) {
      const auto& b = plan.blocks()[i];
      EXPECT_EQ(b.node, i);
      EXPECT_EQ(b.rows, rows / nodes + (i < rows % nodes ? 1 : 0));
      EXPECT_EQ(plan.node_of_row(b.first_row), int(i));
      EXPECT_EQ(plan.node_of_row(b.first_row + b.rows - 1), int(i));
      EXPECT_EQ(plan.block_on(i), &b);
    }
    EXPECT_EQ(plan.node_of_row(rows), -1);
  }
}

// Proves nodes with more CPUs get proportionally more rows (an asymmetric XML-free case built
// from explicit node lists and a machine whose nodes differ in size).
TEST(PlacementPlan, WeightsByCpusAndHonoursNodeList) {
  Topology topo = Topology::synthetic("pack:4 numa:1 core:2 pu:1");
  auto plan = PlacementPlan::by_rows(topo, 10, 8, std::vector<unsigned>{3, 1});
  ASSERT_EQ(plan.blocks().size(), 2u);
  EXPECT_EQ(plan.blocks()[0].node, 3u);
  EXPECT_EQ(plan.blocks()[1].node, 1u);
  EXPECT_EQ(plan.blocks()[0].rows, 5u);
  expect_tiling(plan, 10, 8);
  EXPECT_THROW(PlacementPlan::by_rows(topo, 10, 8, std::vector<unsigned>{4}), strata::Error);
}

// Proves fewer rows than nodes leaves the extra nodes without a block rather than empty blocks.
TEST(PlacementPlan, FewerRowsThanNodes) {
  Topology topo = Topology::synthetic("pack:4 numa:1 core:1 pu:1");
  auto plan = PlacementPlan::by_rows(topo, 2, 8);
  expect_tiling(plan, 2, 8);
  EXPECT_EQ(plan.blocks().size(), 2u);
  EXPECT_EQ(plan.block_on(3), nullptr);
}

// Proves an overflowing array size is rejected.
TEST(PlacementPlan, RejectsOverflow) {
  Topology topo = Topology::synthetic("pack:2 numa:1 core:1 pu:1");
  EXPECT_THROW(PlacementPlan::by_rows(topo, SIZE_MAX / 2, 16), strata::Error);
}

}  // namespace
