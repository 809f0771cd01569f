// SPDX-License-Identifier: Apache-2.0
// Tests of for_each_rows on a synthetic 2-node topology: every row of the range is visited once,
// in the arena of the node whose plan block holds it, in ranges that stay inside one block; an
// empty range runs nothing, a range outside the array is refused, and errors reach the caller.
#include <gtest/gtest.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "strata/runtime/memory/memory_manager.hpp"
#include "strata/scheduler/parallel.hpp"

namespace {

using strata::Executor;
using strata::Topology;

constexpr std::size_t kChunkBytes = 4096;
constexpr std::size_t kRows = 1001;
constexpr std::size_t kCols = 37;  // 296-byte rows: 13 rows per piece with 4 KiB chunks

// Two nodes of two cores each: with 3 threads node 0's arena gets 2 workers and node 1's gets 1,
// so the arena a row ran in can be told from its concurrency.
Topology two_nodes() { return Topology::synthetic("pack:2 numa:1 core:2 pu:1"); }

// Proves every row of [first, last) is visited exactly once and no other row is, each in the
// arena of the node its plan block is on, in ranges of at most chunk_bytes / row bytes rows that
// never cross a block boundary; the executor's statistics count each node's rows, none foreign.
TEST(ForEachRows, VisitsEveryRowOnceOnTheNodeOfItsBlock) {
  Topology topo = two_nodes();
  strata::MemoryManager mm(topo);
  auto a = mm.array<std::int64_t>("a", {kRows, kCols});
  Executor ex(topo, {.threads = 3, .chunk_bytes = kChunkBytes});
  const auto& plan = a.plan();
  ASSERT_EQ(plan.blocks().size(), 2u);
  const int concurrency0 = ex.arena(0).max_concurrency();
  const int concurrency1 = ex.arena(1).max_concurrency();
  ASSERT_NE(concurrency0, concurrency1) << "arenas alike: the check below would prove nothing";

  const std::size_t first = 3, last = 990;
  const std::size_t max_rows = kChunkBytes / (kCols * sizeof(std::int64_t));
  auto visits = std::make_unique<std::atomic<int>[]>(kRows);
  auto arena_of_row = std::make_unique<std::atomic<int>[]>(kRows);
  std::atomic<int> crossing{0}, too_long{0};
  strata::for_each_rows(ex, a, first, last, [&](std::size_t lo, std::size_t hi) {
    if (plan.node_of_row(lo) != plan.node_of_row(hi - 1)) crossing.fetch_add(1);
    if (hi <= lo || hi - lo > max_rows) too_long.fetch_add(1);
    for (std::size_t row = lo; row < hi; ++row) {
      visits[row].fetch_add(1);
      arena_of_row[row].store(oneapi::tbb::this_task_arena::max_concurrency());
      for (std::size_t c = 0; c < kCols; ++c) a(row, c) = static_cast<std::int64_t>(row);
    }
  });

  EXPECT_EQ(crossing.load(), 0);
  EXPECT_EQ(too_long.load(), 0);
  for (std::size_t row = 0; row < kRows; ++row) {
    SCOPED_TRACE(row);
    const bool inside = row >= first && row < last;
    ASSERT_EQ(visits[row].load(), inside ? 1 : 0);
    if (!inside) continue;
    const int owner = plan.node_of_row(row);
    ASSERT_EQ(arena_of_row[row].load(), owner == 0 ? concurrency0 : concurrency1);
    ASSERT_EQ(a(row, kCols - 1), static_cast<std::int64_t>(row));
  }

  const auto stats = ex.stats();
  EXPECT_EQ(stats.foreign_chunks, 0u);
  for (const auto& block : plan.blocks()) {
    const std::size_t lo = std::max(block.first_row, first);
    const std::size_t hi = std::min(block.first_row + block.rows, last);
    EXPECT_EQ(stats.bytes_per_node[block.node], (hi - lo) * plan.row_bytes());
    EXPECT_EQ(stats.chunks_per_node[block.node], (hi - lo + max_rows - 1) / max_rows);
  }
}

// Proves a range inside one block runs only on that block's node.
TEST(ForEachRows, RangeInsideOneBlockStaysOnItsNode) {
  Topology topo = two_nodes();
  strata::MemoryManager mm(topo);
  auto a = mm.array<double>("a", {kRows, kCols});
  Executor ex(topo, {.chunk_bytes = kChunkBytes});
  const auto& second = a.plan().blocks().at(1);
  std::atomic<std::size_t> rows{0};
  strata::for_each_rows(ex, a, second.first_row + 1, second.first_row + second.rows,
                        [&](std::size_t lo, std::size_t hi) { rows.fetch_add(hi - lo); });
  EXPECT_EQ(rows.load(), second.rows - 1);
  const auto stats = ex.stats();
  EXPECT_EQ(stats.bytes_per_node[a.plan().blocks().at(0).node], 0u);
  EXPECT_EQ(stats.bytes_per_node[second.node], (second.rows - 1) * a.plan().row_bytes());
  EXPECT_EQ(stats.foreign_chunks, 0u);
}

// Proves an empty range calls nothing and runs nothing, at the start, middle and end of the
// array, and that a reversed range or one past the last row is Error(invalid_argument).
TEST(ForEachRows, EmptyRangeDoesNothingAndBadRangesAreRefused) {
  Topology topo = two_nodes();
  strata::MemoryManager mm(topo);
  auto a = mm.array<float>("a", {kRows, kCols});
  Executor ex(topo, {.chunk_bytes = kChunkBytes});
  std::atomic<int> calls{0};
  auto count = [&](std::size_t, std::size_t) { calls.fetch_add(1); };
  for (std::size_t at : {std::size_t{0}, std::size_t{500}, kRows}) {
    strata::for_each_rows(ex, a, at, at, count);
  }
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(ex.stats().chunks_per_node, (std::vector<std::uint64_t>{0, 0}));

  for (auto [first, last] : {std::pair<std::size_t, std::size_t>{10, 9}, {0, kRows + 1}}) {
    try {
      strata::for_each_rows(ex, a, first, last, count);
      ADD_FAILURE() << "range [" << first << ", " << last << ") accepted";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
    }
  }
  EXPECT_EQ(calls.load(), 0);
}

// Proves an exception thrown by f for one row on the second node reaches the caller, and the
// executor keeps working afterwards.
TEST(ForEachRows, ExceptionFromTheCallbackReachesTheCaller) {
  Topology topo = two_nodes();
  strata::MemoryManager mm(topo);
  auto a = mm.array<double>("a", {kRows, kCols});
  Executor ex(topo, {.chunk_bytes = kChunkBytes});
  const std::size_t bad_row = a.plan().blocks().at(1).first_row + 7;
  EXPECT_THROW(strata::for_each_rows(ex, a, 0, kRows,
                                     [&](std::size_t lo, std::size_t hi) {
                                       if (lo <= bad_row && bad_row < hi) {
                                         throw std::domain_error("bad row");
                                       }
                                     }),
               std::domain_error);
  std::atomic<std::size_t> rows{0};
  strata::for_each_rows(ex, a, 0, kRows,
                        [&](std::size_t lo, std::size_t hi) { rows.fetch_add(hi - lo); });
  EXPECT_EQ(rows.load(), kRows);
}

}  // namespace
