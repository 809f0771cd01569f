// SPDX-License-Identifier: Apache-2.0
// ChunkPlan: how the parallel algorithms cut data. Elements are split into NUMA partitions (the
// blocks of a PlacementPlan, or an even split by allowed CPUs), and partitions into chunks on one
// grid of chunk_elements counted from the start of the data, cut again where a partition ends.
// It also fixes the merge tree: a balanced binary tree over the global chunk indexes, which does
// not depend on nodes or threads, so a reduction gives the same bits for the same chunks.
//
//   auto plan = strata::ChunkPlan::follow(array.plan(), array.shape().row_elements(), 65536);
//   for (const auto& part : plan.parts()) for (std::size_t k = 0; k < part.chunks; ++k) ...
#pragma once

#include <cstddef>
#include <vector>

#include "strata/runtime/machine/topology.hpp"
#include "strata/runtime/memory/placement_plan.hpp"

namespace strata {

// One NUMA partition: elements [first, first + count), planned on `node`, holding the global
// chunks [first_chunk, first_chunk + chunks).
struct ChunkPart {
  unsigned node = 0;
  std::size_t first = 0;
  std::size_t count = 0;
  std::size_t first_chunk = 0;
  std::size_t chunks = 0;
};

// Elements [first, first + count).
struct ElementRange {
  std::size_t first = 0;
  std::size_t count = 0;
};

// Global chunk indexes [lo, hi): one subtree of the merge tree.
struct MergeSpan {
  std::size_t lo = 0;
  std::size_t hi = 0;
  friend bool operator==(const MergeSpan&, const MergeSpan&) = default;
};

// The merge tree's split of [lo, hi) (hi - lo >= 2): the left half gets the smaller share.
constexpr std::size_t merge_split(std::size_t lo, std::size_t hi) noexcept {
  return lo + (hi - lo) / 2;
}

class ChunkPlan {
 public:
  ChunkPlan() = default;
  // `elements` split in whole chunks over the topology's nodes with allowed CPUs, in proportion to
  // those CPUs (PlacementPlan::by_rows with one row per chunk), so partition boundaries fall on the
  // chunk grid whatever the node count. Error(invalid_argument) when chunk_elements is 0.
  static ChunkPlan even(const Topology& topology, std::size_t elements, std::size_t chunk_elements);
  // The blocks of `plan` (rows of `elements_per_row` elements each), in order, as partitions.
  // Error(invalid_argument) when chunk_elements is 0 or the sizes overflow.
  static ChunkPlan follow(const PlacementPlan& plan, std::size_t elements_per_row,
                          std::size_t chunk_elements);

  const std::vector<ChunkPart>& parts() const noexcept { return parts_; }
  std::size_t elements() const noexcept { return elements_; }
  std::size_t chunk_elements() const noexcept { return chunk_elements_; }
  std::size_t chunk_count() const noexcept { return chunk_count_; }
  // Chunk k (< part.chunks) of `part`.
  ElementRange chunk(const ChunkPart& part, std::size_t k) const noexcept;
  // The largest merge-tree subtrees whose chunks all lie in `part`, in chunk order: a node computes
  // these alone; only the few above them combine partitions.
  std::vector<MergeSpan> subtrees(const ChunkPart& part) const;

 private:
  void add_part(unsigned node, std::size_t first, std::size_t count);

  std::vector<ChunkPart> parts_;
  std::size_t elements_ = 0;
  std::size_t chunk_elements_ = 1;
  std::size_t chunk_count_ = 0;
};

}  // namespace strata
