// SPDX-License-Identifier: Apache-2.0
// Tests of resident loading: each block of the array is filled by the threads of the node it is
// planned on (synthetic 2 and 4 nodes), the copy is exact, a dataset partition loads — and
// streams — in one line through io::byte_source, and a corrupt chunk is an error, not bad data.
#include "strata/scheduler/resident.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <vector>

#include "strata/io/dataset/dataset.hpp"
#include "strata/io/dataset/partition_source.hpp"
#include "strata/io/format/strata_writer.hpp"
#include "strata/scheduler/parallel.hpp"
#include "strata/scheduler/streaming.hpp"
#include "test_accumulators.hpp"

namespace {

namespace fs = std::filesystem;
using strata::ByteSource;
using strata::Executor;
using strata::MemoryManager;
using strata::Topology;
using strata::testing::IntSum;

std::string temp(const std::string& name) {
  return (fs::temp_directory_path() / ("strata-resident-" + std::to_string(getpid()) + "-" + name))
      .string();
}

// Proves load_resident copies the source exactly and that each node's threads copied exactly the
// bytes of the block planned on it (per-node byte counts equal the plan's, nothing foreign).
TEST(Resident, EachBlockIsFilledByItsNodesThreads) {
  for (unsigned n : {2u, 4u}) {
    SCOPED_TRACE(n);
    Topology topo = Topology::synthetic("pack:" + std::to_string(n) + " numa:1 core:1 pu:1");
    MemoryManager mm(topo);
    Executor ex(topo, {.chunk_bytes = 4096});
    std::vector<std::int64_t> source(3001 * 5);
    std::iota(source.begin(), source.end(), 17);
    auto a = strata::load_resident<std::int64_t>(
        ex, mm, "a", {3001, 5}, ByteSource::from_memory(std::as_bytes(std::span(source))));
    ASSERT_EQ(a.size(), source.size());
    EXPECT_TRUE(std::equal(source.begin(), source.end(), a.data()));
    auto stats = ex.stats();
    EXPECT_EQ(stats.foreign_chunks, 0u);
    ASSERT_EQ(a.plan().blocks().size(), n);
    for (const auto& b : a.plan().blocks()) EXPECT_EQ(stats.bytes_per_node[b.node], b.bytes);
  }
}

// Proves a source whose size differs from the array's is refused before anything is allocated.
TEST(Resident, SizeMismatchIsRefused) {
  Topology topo = Topology::synthetic("pack:2 numa:1 core:1 pu:1");
  MemoryManager mm(topo);
  Executor ex(topo);
  std::vector<double> source(99);
  EXPECT_THROW(strata::load_resident<double>(
                   ex, mm, "a", {100}, ByteSource::from_memory(std::as_bytes(std::span(source)))),
               strata::Error);
}

// A .strata file with one i64 array "v" of `rows` x 3 holding 0, 1, 2, ..., in 64 KiB chunks.
std::string write_dataset(const std::string& name, std::size_t rows) {
  std::vector<std::int64_t> v(rows * 3);
  std::iota(v.begin(), v.end(), 0);
  strata::io::StrataWriter w(temp(name), {{"v", strata::DType::i64, {rows, 3}, 65536}});
  w.append(0, std::as_bytes(std::span(v)));
  w.finish();
  return temp(name);
}

// Proves a dataset partition becomes a resident Array in one call through io::byte_source, equal
// to the partition's values, and streams to the same exact result.
TEST(Resident, DatasetPartitionLoadsAndStreams) {
  const std::size_t rows = 200'000;
  const std::string path = write_dataset("ds.strata", rows);
  Topology topo = Topology::load();
  MemoryManager mm(topo);
  Executor ex(topo, {.threads = 2});
  auto ds = strata::io::Dataset::open(path);
  auto part = ds.partition(1, 3);

  auto v =
      strata::load_resident<std::int64_t>(ex, mm, "v", part.shape(), strata::io::byte_source(part));
  auto expected = part.as<std::int64_t>();
  ASSERT_EQ(v.size(), expected.size());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), v.data()));
  EXPECT_EQ(v.data()[0], static_cast<std::int64_t>(part.rows().first * 3));

  IntSum resident = strata::reduce(ex, v, IntSum{});
  IntSum streamed = strata::reduce_streaming<std::int64_t>(ex, strata::io::byte_source(part),
                                                           IntSum{}, {.window_bytes = 1 << 20});
  EXPECT_EQ(streamed.sum, resident.sum);
  EXPECT_EQ(streamed.squares, resident.squares);
  EXPECT_EQ(streamed.count, part.rows().count * 3);
  fs::remove(path);
}

// Proves a damaged chunk of the dataset surfaces as Error(corrupt_data) from load_resident and
// from streaming — the verification of the partition's views is not bypassed.
TEST(Resident, CorruptChunkIsAnError) {
  const std::string path = write_dataset("bad.strata", 100'000);
  std::uint64_t data_offset = 0;
  {
    auto f = strata::io::StrataFile::open(path);
    data_offset = f.array("v").data_offset;
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(data_offset + 1'000'000));
    f.put('\x5a');
  }
  Topology topo = Topology::load();
  MemoryManager mm(topo);
  Executor ex(topo, {.threads = 2});
  auto part = strata::io::Dataset::open(path).partition(0, 1);
  try {
    strata::load_resident<std::int64_t>(ex, mm, "v", part.shape(), strata::io::byte_source(part));
    ADD_FAILURE() << "a corrupt chunk loaded";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data);
  }
  auto fresh = strata::io::Dataset::open(path).partition(0, 1);
  EXPECT_THROW(strata::reduce_streaming<std::int64_t>(ex, strata::io::byte_source(fresh), IntSum{}),
               strata::Error);
  fs::remove(path);
}

}  // namespace
