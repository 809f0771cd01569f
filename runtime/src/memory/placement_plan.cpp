// SPDX-License-Identifier: Apache-2.0
// PlacementPlan: proportional split of rows over NUMA nodes, weighted by each node's allowed CPUs.
#include "strata/runtime/memory/placement_plan.hpp"

#include "strata/runtime/base/error.hpp"

namespace strata {

PlacementPlan PlacementPlan::by_rows(const Topology& topology, std::size_t rows,
                                     std::size_t row_bytes,
                                     std::optional<std::vector<unsigned>> nodes) {
  std::size_t total = 0;
  if (__builtin_mul_overflow(rows, row_bytes, &total)) {
    throw Error(ErrorCategory::invalid_argument, "array size overflows",
                {{"rows", std::to_string(rows)}, {"row_bytes", std::to_string(row_bytes)}});
  }
  std::vector<unsigned> chosen;
  std::vector<std::size_t> weights;
  if (nodes) {
    for (unsigned n : *nodes) {
      if (n >= topology.numa_nodes().size()) {
        throw Error(ErrorCategory::invalid_argument, "no such NUMA node in placement plan",
                    {{"node", std::to_string(n)}});
      }
    }
    chosen = *nodes;
  } else {
    for (const auto& n : topology.numa_nodes()) chosen.push_back(n.index);
  }
  for (unsigned n : chosen) {
    weights.push_back(topology.numa_nodes()[n].cpus.intersect(topology.allowed_cpus()).size());
  }
  std::size_t weight_sum = 0;
  for (std::size_t w : weights) weight_sum += w;
  if (weight_sum == 0) {  // no allowed CPU on any chosen node: split evenly
    for (auto& w : weights) w = 1;
    weight_sum = weights.size();
  }

  PlacementPlan plan;
  plan.rows_ = rows;
  plan.row_bytes_ = row_bytes;
  // Floor shares first, then the remainder one row each to the first weighted blocks.
  std::vector<std::size_t> share(chosen.size());
  std::size_t assigned = 0;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    // rows * w / S without overflow: S and w are CPU counts, small.
    share[i] = rows / weight_sum * weights[i] + rows % weight_sum * weights[i] / weight_sum;
    assigned += share[i];
  }
  for (std::size_t i = 0; assigned < rows; i = (i + 1) % chosen.size()) {
    if (weights[i] == 0) continue;
    ++share[i];
    ++assigned;
  }
  std::size_t row = 0;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    if (share[i] == 0) continue;
    plan.blocks_.push_back(
        PlanBlock{chosen[i], row, share[i], row * row_bytes, share[i] * row_bytes});
    row += share[i];
  }
  return plan;
}

PlacementPlan PlacementPlan::single_node(std::size_t rows, std::size_t row_bytes, unsigned node) {
  PlacementPlan plan;
  plan.rows_ = rows;
  plan.row_bytes_ = row_bytes;
  if (rows > 0) plan.blocks_.push_back(PlanBlock{node, 0, rows, 0, rows * row_bytes});
  return plan;
}

int PlacementPlan::node_of_row(std::size_t row) const noexcept {
  for (const auto& b : blocks_) {
    if (row >= b.first_row && row < b.first_row + b.rows) return static_cast<int>(b.node);
  }
  return -1;
}

const PlanBlock* PlacementPlan::block_on(unsigned node) const noexcept {
  for (const auto& b : blocks_) {
    if (b.node == node) return &b;
  }
  return nullptr;
}

}  // namespace strata
