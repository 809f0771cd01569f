// SPDX-License-Identifier: Apache-2.0
// PlacementPlan: how an array's rows (its first dimension) are split into one block per NUMA
// node. The memory layer binds each block's pages to its node; the scheduler runs a block's
// chunks on that node's threads; the checkpointer saves blocks. One plan, read by all three.
//
//   auto plan = strata::PlacementPlan::by_rows(topo, rows, row_bytes);
//   for (const auto& b : plan.blocks()) process(b.node, b.first_row, b.rows);
//
// Split rule: rows are divided in proportion to the CPUs this process may use on each node
// (nodes with none get no rows, unless no node has any); the remainder goes one row each to the
// first blocks. Under Slurm, a rank that was given CPUs on one node keeps its rows there.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "strata/runtime/machine/topology.hpp"

namespace strata {

struct PlanBlock {
  unsigned node = 0;            // logical NUMA node index
  std::size_t first_row = 0;
  std::size_t rows = 0;
  std::size_t byte_offset = 0;  // first_row * row_bytes
  std::size_t bytes = 0;        // rows * row_bytes
};

class PlacementPlan {
 public:
  PlacementPlan() = default;
  // Splits `rows` rows of `row_bytes` over `nodes` (default: every node of the topology that has
  // an allowed CPU). Throws Error(invalid_argument) for unknown nodes or overflowing sizes.
  static PlacementPlan by_rows(const Topology& topology, std::size_t rows, std::size_t row_bytes,
                               std::optional<std::vector<unsigned>> nodes = std::nullopt);
  // Everything on one node.
  static PlacementPlan single_node(std::size_t rows, std::size_t row_bytes, unsigned node);

  const std::vector<PlanBlock>& blocks() const noexcept { return blocks_; }
  std::size_t rows() const noexcept { return rows_; }
  std::size_t row_bytes() const noexcept { return row_bytes_; }
  std::size_t total_bytes() const noexcept { return rows_ * row_bytes_; }
  // The node that holds `row`; -1 when out of range.
  int node_of_row(std::size_t row) const noexcept;
  // The block planned on `node`, or nullptr if that node has none.
  const PlanBlock* block_on(unsigned node) const noexcept;

 private:
  std::vector<PlanBlock> blocks_;
  std::size_t rows_ = 0;
  std::size_t row_bytes_ = 0;
};

}  // namespace strata
