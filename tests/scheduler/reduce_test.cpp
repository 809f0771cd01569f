// SPDX-License-Identifier: Apache-2.0
// Tests of the parallel algorithms on synthetic 1-, 2- and 4-node topologies: chunks run on the
// node their partition is planned on, results have the same bits whatever the node and thread
// count (for the same chunking) and are exact for integers over Arrays, for_each_chunk and
// transform cover every element once, and errors come back to the caller.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <vector>

#include "strata/kernels/stats.hpp"
#include "strata/runtime/memory/memory_manager.hpp"
#include "strata/scheduler/parallel.hpp"
#include "test_accumulators.hpp"

namespace {

using strata::ChunkPlan;
using strata::Executor;
using strata::Topology;
using strata::testing::FloatSum;
using strata::testing::IntSum;
using strata::testing::order_sensitive_values;

constexpr std::size_t kChunkBytes = 4096;  // 512 doubles: many chunks from small data

Topology nodes(unsigned n, unsigned cores = 1) {
  return Topology::synthetic("pack:" + std::to_string(n) + " numa:1 core:" + std::to_string(cores) +
                             " pu:1");
}

// The documented merge tree, computed sequentially: chunks of `chunk` elements, halves split as
// merge_split does.
FloatSum tree_sum(const std::vector<double>& v, std::size_t chunk, std::size_t lo, std::size_t hi) {
  if (hi - lo == 1) {
    FloatSum leaf;
    const std::size_t first = lo * chunk;
    leaf.add(std::span<const double>(v).subspan(first, std::min(chunk, v.size() - first)));
    return leaf;
  }
  const std::size_t mid = strata::merge_split(lo, hi);
  FloatSum left = tree_sum(v, chunk, lo, mid);
  left.merge(tree_sum(v, chunk, mid, hi));
  return left;
}

// Proves a floating reduction over a span gives the same bits on 1, 2 and 4 nodes and with 1 to
// 8 threads — the bits of the documented merge tree — while a plain left-to-right sum of the
// same data differs (so equality is not an accident of the data).
TEST(ReduceDeterminism, SameBitsForAnyNodeAndThreadCount) {
  const auto values = order_sensitive_values(100'003);
  const std::size_t chunk = kChunkBytes / sizeof(double);
  const FloatSum expected = tree_sum(values, chunk, 0, (values.size() + chunk - 1) / chunk);
  FloatSum sequential;
  sequential.add(values);
  ASSERT_NE(expected.sum, sequential.sum) << "data not order-sensitive enough to prove anything";

  for (unsigned n : {1u, 2u, 4u}) {
    for (unsigned threads : {1u, 2u, 8u}) {
      SCOPED_TRACE(std::to_string(n) + " nodes, " + std::to_string(threads) + " threads");
      Topology topo = nodes(n, 2);
      Executor ex(topo, {.threads = threads, .chunk_bytes = kChunkBytes});
      FloatSum got = strata::reduce(ex, values, FloatSum{});
      EXPECT_EQ(got.count, values.size());
      EXPECT_EQ(std::bit_cast<std::uint64_t>(got.sum), std::bit_cast<std::uint64_t>(expected.sum));
    }
  }
}

// Proves every chunk of an Array runs in the arena of the node its block is planned on: per-node
// chunk and byte counts equal the plan's, and no chunk ran elsewhere.
TEST(Reduce, ChunksRunOnTheNodeTheirBlockIsPlannedOn) {
  for (unsigned n : {2u, 4u}) {
    SCOPED_TRACE(n);
    Topology topo = nodes(n);
    strata::MemoryManager mm(topo);
    auto a = mm.array<std::int64_t>("a", {1001, 37});
    std::iota(a.span().begin(), a.span().end(), std::int64_t{-5000});
    Executor ex(topo, {.chunk_bytes = kChunkBytes});
    IntSum got = strata::reduce(ex, a, IntSum{});
    EXPECT_EQ(got.count, a.size());

    const ChunkPlan plan = ChunkPlan::follow(a.plan(), 37, kChunkBytes / 8);
    auto stats = ex.stats();
    EXPECT_EQ(stats.foreign_chunks, 0u);
    ASSERT_EQ(plan.parts().size(), n);
    for (const auto& part : plan.parts()) {
      EXPECT_EQ(stats.chunks_per_node[part.node], part.chunks);
      EXPECT_EQ(stats.bytes_per_node[part.node], a.plan().block_on(part.node)->bytes);
    }
  }
}

// Proves Array reductions do not depend on the node count: integer results exact, floating sums
// within 1e-12 relative of each other (the plans cut different chunks, so only rounding differs).
TEST(Reduce, ArrayResultsIndependentOfNodeCount) {
  std::optional<IntSum> ints;
  std::optional<double> floats;
  for (unsigned n : {1u, 2u, 4u}) {
    SCOPED_TRACE(n);
    Topology topo = nodes(n);
    strata::MemoryManager mm(topo);
    auto i = mm.array<std::int64_t>("i", {999, 13});
    auto f = mm.array<double>("f", {999, 13});
    for (std::size_t k = 0; k < i.size(); ++k) {
      i.data()[k] = static_cast<std::int64_t>(k * 7919 % 10007) - 5000;
      f.data()[k] = 1.0 + 0.5 * std::sin(static_cast<double>(k));  // positive: well conditioned
    }
    Executor ex(topo, {.chunk_bytes = kChunkBytes});
    IntSum si = strata::reduce(ex, i, IntSum{});
    FloatSum sf = strata::reduce(ex, f, FloatSum{});
    if (!ints) {
      ints = si;
      floats = sf.sum;
      continue;
    }
    EXPECT_EQ(si.sum, ints->sum);
    EXPECT_EQ(si.squares, ints->squares);
    EXPECT_EQ(si.count, ints->count);
    EXPECT_NEAR(sf.sum, *floats, 1e-12 * std::abs(*floats));
  }
}

// Proves kernels::Stats works as a scheduler accumulator: over a span the same bits on 1, 2 and 4
// nodes; over Arrays (different chunks per node count) count, min and max exact and mean and
// variance within 1e-12 relative of a long-double reference.
TEST(Reduce, KernelStatsAgreeAcrossNodeCounts) {
  const std::size_t rows = 4001, cols = 25;
  std::vector<double> values(rows * cols);
  for (std::size_t k = 0; k < values.size(); ++k) {
    values[k] =
        1e3 + 10.0 * std::sin(0.37 * static_cast<double>(k)) + 0.01 * static_cast<double>(k % 17);
  }
  long double mean = 0.0L, m2 = 0.0L;
  for (double v : values) mean += v;
  mean /= static_cast<long double>(values.size());
  for (double v : values) m2 += (v - mean) * (v - mean);
  const double variance = static_cast<double>(m2 / static_cast<long double>(values.size()));

  std::optional<strata::kernels::Stats> first_span;
  for (unsigned n : {1u, 2u, 4u}) {
    SCOPED_TRACE(n);
    Topology topo = nodes(n);
    Executor ex(topo, {.chunk_bytes = kChunkBytes});
    auto s = strata::reduce(ex, values, strata::kernels::Stats{});
    if (!first_span) first_span = s;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(s.mean), std::bit_cast<std::uint64_t>(first_span->mean));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(s.m2), std::bit_cast<std::uint64_t>(first_span->m2));

    strata::MemoryManager mm(topo);
    auto a = mm.array<double>("a", {rows, cols});
    std::copy(values.begin(), values.end(), a.data());
    auto t = strata::reduce(ex, a, strata::kernels::Stats{});
    EXPECT_EQ(t.count, values.size());
    EXPECT_EQ(t.min, *std::min_element(values.begin(), values.end()));
    EXPECT_EQ(t.max, *std::max_element(values.begin(), values.end()));
    EXPECT_NEAR(t.mean, static_cast<double>(mean), 1e-12 * static_cast<double>(mean));
    EXPECT_NEAR(t.variance().value(), variance, 1e-12 * variance);
  }
}

// Proves a reduction with an explicit plan follows it (chunks counted on the plan's nodes) and
// that a plan not covering the data is refused.
TEST(Reduce, ExplicitPlanIsFollowedAndChecked) {
  Topology topo = nodes(4);
  Executor ex(topo, {.chunk_bytes = kChunkBytes});
  std::vector<std::int64_t> v(4096);
  std::iota(v.begin(), v.end(), 0);
  auto on_node_2 = strata::PlacementPlan::single_node(4096, 8, 2);
  IntSum got = strata::reduce(ex, v, on_node_2, IntSum{});
  EXPECT_EQ(got.sum, 4095 * 4096 / 2);
  auto stats = ex.stats();
  EXPECT_EQ(stats.chunks_per_node, (std::vector<std::uint64_t>{0, 0, 8, 0}));
  EXPECT_EQ(stats.foreign_chunks, 0u);
  EXPECT_THROW(strata::reduce(ex, v, strata::PlacementPlan::single_node(4095, 8, 0), IntSum{}),
               strata::Error);
}

// Proves empty data gives back init untouched and runs nothing.
TEST(Reduce, EmptyDataReturnsInit) {
  Topology topo = nodes(2);
  Executor ex(topo);
  std::vector<double> none;
  FloatSum init;
  init.count = 7;  // not an identity, only to see it come back as it was
  EXPECT_EQ(strata::reduce(ex, none, init).count, 7u);
  EXPECT_EQ(ex.stats().chunks_per_node, (std::vector<std::uint64_t>{0, 0}));
}

// Proves an exception thrown by the accumulator on one chunk reaches the caller, and the executor
// keeps working afterwards.
TEST(Reduce, AccumulatorExceptionReachesTheCaller) {
  struct Failing {
    void add(std::span<const double> v) {
      for (double x : v) {
        if (x < 0) throw std::domain_error("negative value");
      }
    }
    void merge(const Failing&) {}
  };
  Topology topo = nodes(2);
  Executor ex(topo, {.chunk_bytes = kChunkBytes});
  std::vector<double> v(50'000, 1.0);
  v[31'337] = -1.0;
  EXPECT_THROW(strata::reduce(ex, v, Failing{}), std::domain_error);
  v[31'337] = 1.0;
  EXPECT_EQ(strata::reduce(ex, v, FloatSum{}).sum, 50'000.0);
}

// Proves for_each_chunk visits every element exactly once, in chunks of at most chunk_elements,
// passing each chunk's first index, over spans and Arrays.
TEST(Reduce, ForEachChunkVisitsEveryElementOnce) {
  Topology topo = nodes(4);
  Executor ex(topo, {.chunk_bytes = kChunkBytes});
  std::vector<std::uint32_t> seen(123'457, 0);
  strata::for_each_chunk(ex, seen, [&](std::span<std::uint32_t> chunk, std::size_t first) {
    EXPECT_LE(chunk.size(), kChunkBytes / 4);
    EXPECT_EQ(chunk.data(), seen.data() + first);
    for (auto& s : chunk) ++s;
  });
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1u), static_cast<long>(seen.size()));

  strata::MemoryManager mm(topo);
  auto a = mm.array<double>("a", {333, 3});
  strata::for_each_chunk(ex, a, [](std::span<double> chunk) {
    for (auto& x : chunk) x = 2.0;
  });
  EXPECT_EQ(strata::reduce(ex, a, FloatSum{}).sum, 2.0 * 999);
}

// Proves transform writes f(in) into every element, in the chunk form (a kernel on spans) and the
// element form, across element types of different widths, and refuses mismatched sizes.
TEST(Reduce, TransformChunkAndElementForms) {
  Topology topo = nodes(2);
  Executor ex(topo, {.chunk_bytes = kChunkBytes});
  std::vector<float> in(77'777);
  std::iota(in.begin(), in.end(), 0.0f);
  std::vector<double> out(in.size());
  strata::transform(ex, in, out, [](std::span<const float> x, std::span<double> y) {
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = 2.0 * x[i] + 1.0;
  });
  for (std::size_t i = 0; i < in.size(); i += 997) EXPECT_EQ(out[i], 2.0 * in[i] + 1.0);
  EXPECT_EQ(out.back(), 2.0 * in.back() + 1.0);

  std::vector<std::int64_t> squares(in.size());
  strata::transform(ex, in, squares, [](float x) { return static_cast<std::int64_t>(x) * 3; });
  EXPECT_EQ(squares[12'345], 12'345 * 3);

  strata::MemoryManager mm(topo);
  auto a = mm.array<double>("a", {500, 4});
  auto b = mm.array<double>("b", {500, 4});
  std::fill(a.span().begin(), a.span().end(), 1.5);
  ex.reset_stats();
  strata::transform(ex, a, b, [](double x) { return x * x; });
  EXPECT_EQ(strata::reduce(ex, b, FloatSum{}).sum, 2.25 * 2000);
  EXPECT_EQ(ex.stats().foreign_chunks, 0u);

  std::vector<double> short_out(10);
  EXPECT_THROW(strata::transform(ex, in, short_out, [](float x) { return double(x); }),
               strata::Error);
}

}  // namespace
