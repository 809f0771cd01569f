// SPDX-License-Identifier: Apache-2.0
// ChunkPlan: NUMA partitions cut on one global chunk grid, and the merge tree's subtrees that lie
// inside one partition.
#include "strata/scheduler/chunk_plan.hpp"

#include <algorithm>
#include <string>

#include "strata/runtime/base/error.hpp"

namespace strata {
namespace {

void check_chunk_elements(std::size_t chunk_elements) {
  if (chunk_elements == 0) {
    throw Error(ErrorCategory::invalid_argument, "a chunk must hold at least one element");
  }
}

// Appends the subtrees of [lo, hi) lying inside [a, b).
void collect(std::size_t lo, std::size_t hi, std::size_t a, std::size_t b,
             std::vector<MergeSpan>& out) {
  if (hi <= a || lo >= b) return;
  if (a <= lo && hi <= b) {
    out.push_back({lo, hi});
    return;
  }
  // Partly inside, so at least two chunks: split like the merge tree does.
  const std::size_t mid = merge_split(lo, hi);
  collect(lo, mid, a, b, out);
  collect(mid, hi, a, b, out);
}

}  // namespace

void ChunkPlan::add_part(unsigned node, std::size_t first, std::size_t count) {
  if (count == 0) return;
  const std::size_t c = chunk_elements_;
  const std::size_t chunks = (first + count - 1) / c - first / c + 1;
  parts_.push_back(ChunkPart{node, first, count, chunk_count_, chunks});
  chunk_count_ += chunks;
  elements_ = first + count;
}

ChunkPlan ChunkPlan::even(const Topology& topology, std::size_t elements,
                          std::size_t chunk_elements) {
  check_chunk_elements(chunk_elements);
  ChunkPlan plan;
  plan.chunk_elements_ = chunk_elements;
  if (elements == 0) return plan;
  const std::size_t chunks = (elements - 1) / chunk_elements + 1;
  const PlacementPlan by_chunks = PlacementPlan::by_rows(topology, chunks, 1);
  for (const auto& b : by_chunks.blocks()) {
    const std::size_t first = b.first_row * chunk_elements;
    plan.add_part(b.node, first,
                  std::min(elements, (b.first_row + b.rows) * chunk_elements) - first);
  }
  return plan;
}

ChunkPlan ChunkPlan::follow(const PlacementPlan& placement, std::size_t elements_per_row,
                            std::size_t chunk_elements) {
  check_chunk_elements(chunk_elements);
  std::size_t total = 0;
  if (__builtin_mul_overflow(placement.rows(), elements_per_row, &total)) {
    throw Error(ErrorCategory::invalid_argument, "plan size overflows",
                {{"rows", std::to_string(placement.rows())},
                 {"elements_per_row", std::to_string(elements_per_row)}});
  }
  ChunkPlan plan;
  plan.chunk_elements_ = chunk_elements;
  for (const auto& b : placement.blocks()) {
    plan.add_part(b.node, b.first_row * elements_per_row, b.rows * elements_per_row);
  }
  plan.elements_ = total;
  return plan;
}

ElementRange ChunkPlan::chunk(const ChunkPart& part, std::size_t k) const noexcept {
  const std::size_t c = chunk_elements_;
  const std::size_t grid = part.first / c + k;
  const std::size_t begin = k == 0 ? part.first : grid * c;
  const std::size_t end = std::min(part.first + part.count, (grid + 1) * c);
  return {begin, end - begin};
}

std::vector<MergeSpan> ChunkPlan::subtrees(const ChunkPart& part) const {
  std::vector<MergeSpan> out;
  collect(0, chunk_count_, part.first_chunk, part.first_chunk + part.chunks, out);
  return out;
}

}  // namespace strata
