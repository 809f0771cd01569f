// SPDX-License-Identifier: Apache-2.0
// Tests of strata::combine: one pass of several accumulators gives, member by member, the bits of
// running each alone with the same chunking — over spans on 1, 2 and 4 nodes, over a dataset
// partition (verified in the pass) and streamed — with the kernels' accumulators and with a
// user's own; structured bindings and get<I> reach the members; the byte image that carries a
// Combined across ranks round-trips and refuses malformed input.
#include "strata/scheduler/combine.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "common/scratch_folder.hpp"
#include "strata/io/dataset/dataset.hpp"
#include "strata/io/dataset/partition_source.hpp"
#include "strata/io/format/strata_writer.hpp"
#include "strata/kernels/filter.hpp"
#include "strata/kernels/histogram.hpp"
#include "strata/kernels/stats.hpp"
#include "strata/runtime/cluster/mpi_context.hpp"
#include "strata/scheduler/streaming.hpp"
#include "test_accumulators.hpp"

namespace {

namespace k = strata::kernels;
using strata::Executor;
using strata::Topology;
using strata::testing::FloatSum;

constexpr std::size_t kChunkBytes = 4096;  // 512 doubles: many chunks from small data

// A user's own accumulator, not trivially copyable, that crosses ranks through its own
// serialize(): every chunk's size in the order the merge tree joins them, so any change in
// chunking or merge order changes it.
struct ChunkSizes {
  std::vector<std::uint64_t> sizes;
  void add(std::span<const double> values) { sizes.push_back(values.size()); }
  void merge(const ChunkSizes& other) {
    sizes.insert(sizes.end(), other.sizes.begin(), other.sizes.end());
  }
  std::vector<std::byte> serialize() const {
    const auto* p = reinterpret_cast<const std::byte*>(sizes.data());
    return {p, p + sizes.size() * sizeof(std::uint64_t)};
  }
  static ChunkSizes deserialize(std::span<const std::byte> bytes) {
    if (bytes.size() % sizeof(std::uint64_t) != 0) throw std::invalid_argument("ChunkSizes image");
    ChunkSizes c;
    c.sizes.resize(bytes.size() / sizeof(std::uint64_t));
    std::memcpy(c.sizes.data(), bytes.data(), bytes.size());
    return c;
  }
  friend bool operator==(const ChunkSizes&, const ChunkSizes&) = default;
};

using Analysis = strata::Combined<k::Stats, k::Histogram, k::CountIf<double>, FloatSum>;

static_assert(strata::Accumulator<Analysis, double>);
// A combination takes exactly the element types every member takes: CountIf<double> takes no f32.
static_assert(strata::Accumulator<strata::Combined<k::Stats, k::Histogram>, float>);
static_assert(!strata::Accumulator<Analysis, float>);
static_assert(std::tuple_size_v<Analysis> == 4);
static_assert(std::is_same_v<std::tuple_element_t<1, Analysis>, k::Histogram>);
// It crosses ranks through its byte image (the Histogram member is not trivially copyable).
static_assert(strata::SerializableMergeable<Analysis>);
static_assert(strata::SerializableMergeable<strata::Combined<k::Stats, ChunkSizes>>);

Topology nodes(unsigned n, unsigned cores) {
  return Topology::synthetic("pack:" + std::to_string(n) + " numa:1 core:" + std::to_string(cores) +
                             " pu:1");
}

// Values whose floating sum shows their order, over 16 decades of both signs: the histogram over
// [0, 100) gets bins, underflow and overflow. No NaN: it would make every FloatSum NaN, equal
// whatever the order.
std::vector<double> test_values(std::size_t n) {
  return strata::testing::order_sensitive_values(n);
}

Analysis empty_analysis() {
  return strata::combine(k::Stats{}, k::Histogram(0.0, 100.0, 64),
                         k::CountIf<double>(k::Compare::greater, 90.0), FloatSum{});
}

void expect_same_bits(const k::Stats& a, const k::Stats& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.nan_count, b.nan_count);
  for (auto field : {&k::Stats::sum, &k::Stats::min, &k::Stats::max, &k::Stats::mean, &k::Stats::m2,
                     &k::Stats::sum_low}) {
    EXPECT_EQ(std::bit_cast<std::uint64_t>(a.*field), std::bit_cast<std::uint64_t>(b.*field));
  }
}

// Every member of `combined` against `run(member alone)`.
template <class Run>
void expect_members_as_alone(const Analysis& combined, const Run& run) {
  const auto [stats, histogram, above, float_sum] = combined;
  expect_same_bits(stats, run(k::Stats{}));
  EXPECT_EQ(histogram, run(k::Histogram(0.0, 100.0, 64)));
  EXPECT_EQ(above.count, run(k::CountIf<double>(k::Compare::greater, 90.0)).count);
  const FloatSum sum_alone = run(FloatSum{});
  EXPECT_EQ(std::bit_cast<std::uint64_t>(float_sum.sum),
            std::bit_cast<std::uint64_t>(sum_alone.sum));
  EXPECT_EQ(float_sum.count, sum_alone.count);
}

// Proves one combined pass over a span gives each member the bits it has alone (statistics,
// histogram, threshold count and an order-sensitive user sum) on 1, 2 and 4 nodes with 1 and 2
// threads; would fail if a member saw other chunks or merged in another order.
TEST(Combine, SameBitsAsEachAccumulatorAloneOverASpan) {
  const auto values = test_values(100'003);
  for (unsigned n : {1u, 2u, 4u}) {
    for (unsigned threads : {1u, 2u}) {
      SCOPED_TRACE(std::to_string(n) + " nodes, " + std::to_string(threads) + " threads");
      const Topology topo = nodes(n, 2);
      Executor ex(topo, {.threads = threads, .chunk_bytes = kChunkBytes});
      const Analysis combined = strata::reduce(ex, values, empty_analysis());
      expect_members_as_alone(combined, [&](auto acc) { return strata::reduce(ex, values, acc); });
      EXPECT_EQ(combined.get<0>().count, values.size());
      EXPECT_GT(combined.get<1>().underflow(), 0u);
      EXPECT_GT(combined.get<1>().overflow(), 0u);
      EXPECT_EQ(combined.get<1>().total(), values.size());
    }
  }
}

// Proves the comparison above can fail: a different chunking changes the user sum's bits, so
// equal bits mean the same chunks merged in the same order.
TEST(Combine, ChunkingChangesTheBitsSoEqualityMeansSameChunks) {
  const auto values = test_values(100'003);
  const Topology topo = nodes(1, 2);
  Executor small(topo, {.threads = 2, .chunk_bytes = kChunkBytes});
  Executor large(topo, {.threads = 2, .chunk_bytes = 4 * kChunkBytes});
  EXPECT_NE(
      std::bit_cast<std::uint64_t>(strata::reduce(small, values, FloatSum{}).sum),
      std::bit_cast<std::uint64_t>(strata::reduce(large, values, empty_analysis()).get<3>().sum));
}

// Proves a user's accumulator joins a combination beside the kernels' ones and sees exactly the
// chunks, in the merge order, it sees alone (its record of chunk sizes is equal, element by
// element); structured bindings reach it.
TEST(Combine, UserAccumulatorSeesTheChunksItSeesAlone) {
  const auto values = test_values(30'001);
  const Topology topo = nodes(2, 2);
  Executor ex(topo, {.threads = 2, .chunk_bytes = kChunkBytes});
  auto [stats, sizes] = strata::reduce(ex, values, strata::combine(k::Stats{}, ChunkSizes{}));
  const ChunkSizes alone = strata::reduce(ex, values, ChunkSizes{});
  EXPECT_EQ(sizes, alone);
  EXPECT_EQ(sizes.sizes.size(), (values.size() + 511) / 512);
  expect_same_bits(stats, strata::reduce(ex, values, k::Stats{}));
}

class CombinePartition : public strata::test::ScratchFolderTest {
 protected:
  CombinePartition() : ScratchFolderTest("strata-combine") {}

  // "x": the test values as f64 in 4 KiB checksum chunks.
  std::string write_file(const std::vector<double>& v) {
    const std::string file = path("x.strata");
    strata::io::StrataWriter w(file, {{"x", strata::DType::f64, {v.size()}, kChunkBytes}});
    w.append(0, std::as_bytes(std::span(v)));
    w.finish();
    return file;
  }
};

// Proves the one-pass verified reduction of a dataset partition takes a combination and gives
// each member the bits it has alone (each alone on a freshly opened dataset, so each pass
// verifies), for the whole file and for one rank's partition of three.
TEST_F(CombinePartition, SameBitsAsEachAccumulatorAloneOverAPartition) {
  const auto values = test_values(40'000);
  const std::string file = write_file(values);
  const Topology topo = nodes(1, 2);
  Executor ex(topo, {.threads = 2, .chunk_bytes = kChunkBytes});
  for (const auto& [rank, size] : {std::pair{0, 1}, std::pair{1, 3}}) {
    SCOPED_TRACE("partition " + std::to_string(rank) + " of " + std::to_string(size));
    const auto part = strata::io::Dataset::open(file).partition(rank, size);
    const Analysis combined = strata::reduce<double>(ex, part, empty_analysis());
    expect_members_as_alone(combined, [&](auto acc) {
      const auto fresh = strata::io::Dataset::open(file).partition(rank, size);
      return strata::reduce<double>(ex, fresh, acc);
    });
    EXPECT_EQ(combined.get<1>().total(), part.size_bytes() / sizeof(double));
  }
}

// Proves reduce_streaming takes a combination: each member has the bits of streaming it alone
// with the same window.
TEST(Combine, SameBitsAsEachAccumulatorAloneStreamed) {
  const auto values = test_values(100'003);
  const Topology topo = nodes(1, 2);
  Executor ex(topo, {.threads = 2, .chunk_bytes = kChunkBytes});
  const strata::StreamOptions window{.window_bytes = 8 * kChunkBytes,
                                     .release = strata::StreamRelease::keep};
  const Analysis combined = strata::reduce_streaming(ex, values, empty_analysis(), window);
  expect_members_as_alone(
      combined, [&](auto acc) { return strata::reduce_streaming(ex, values, acc, window); });
}

// Proves the byte image that carries a combination across ranks gives back every member (a
// trivially copyable one by its bytes, the Histogram and a user type by their serialize()) and
// that merging the copies equals merging the originals.
TEST(Combine, ByteImageRoundTripsEveryMember) {
  const auto values = test_values(5'000);
  const std::span<const double> all(values);
  auto a = strata::combine(k::Stats{}, k::Histogram(0.0, 100.0, 64),
                           k::CountIf<double>(k::Compare::greater, 90.0), ChunkSizes{});
  auto b = a;
  a.add(all.first(2'000));
  b.add(all.subspan(2'000));
  using Image = decltype(a);
  const Image a2 = Image::deserialize(a.serialize());
  const Image b2 = Image::deserialize(b.serialize());
  expect_same_bits(a2.get<0>(), a.get<0>());
  EXPECT_EQ(a2.get<1>(), a.get<1>());
  EXPECT_EQ(a2.get<2>().count, a.get<2>().count);
  EXPECT_EQ(a2.get<2>().threshold, 90.0);
  EXPECT_EQ(a2.get<3>(), a.get<3>());
  Image merged = a2;
  merged.merge(b2);
  a.merge(b);
  expect_same_bits(merged.get<0>(), a.get<0>());
  EXPECT_EQ(merged.get<1>(), a.get<1>());
  EXPECT_EQ(merged.get<2>().count, a.get<2>().count);
  EXPECT_EQ(merged.get<3>(), a.get<3>());
  EXPECT_EQ(merged.get<1>().total(), values.size());
}

// Proves a truncated, extended or member-size-corrupted image is an Error(corrupt_data), not a
// read past the end or a silently wrong member.
TEST(Combine, MalformedImageIsCorruptData) {
  auto c = strata::combine(k::Stats{}, k::CountIf<double>(k::Compare::greater, 1.0));
  c.add(std::span<const double>(test_values(100)));
  const std::vector<std::byte> good = c.serialize();
  using Image = decltype(c);
  auto expect_corrupt = [](std::span<const std::byte> bytes) {
    try {
      (void)Image::deserialize(bytes);
      ADD_FAILURE() << "accepted a malformed image of " << bytes.size() << " bytes";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data);
    }
  };
  expect_corrupt(std::span(good).first(good.size() - 1));
  expect_corrupt(std::span(good).first(5));
  std::vector<std::byte> longer = good;
  longer.push_back(std::byte{0});
  expect_corrupt(longer);
  std::vector<std::byte> wrong_size = good;
  wrong_size[0] = static_cast<std::byte>(sizeof(k::Stats) - 8);  // the Stats member's length
  expect_corrupt(wrong_size);
  EXPECT_NO_THROW((void)Image::deserialize(good));
}

// Proves a member's merge error reaches the caller: histograms of different bins do not merge
// silently inside a combination.
TEST(Combine, MemberMergeErrorReachesTheCaller) {
  auto a = strata::combine(k::Stats{}, k::Histogram(0.0, 1.0, 4));
  const auto b = strata::combine(k::Stats{}, k::Histogram(0.0, 1.0, 8));
  EXPECT_THROW(a.merge(b), std::invalid_argument);
}

}  // namespace
