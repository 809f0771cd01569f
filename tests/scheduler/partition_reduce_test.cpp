// SPDX-License-Identifier: Apache-2.0
// Tests of reduce(ex, partition, acc), the one-pass reduction of a dataset partition: a bad chunk
// is an Error naming it with one or two threads and never reaches the accumulator, each checksum
// chunk is verified exactly once per opened Dataset however many threads read it, and results
// have the bits of the old two-pass path (as<T>() then reduce) for the same chunking.
#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include "common/scratch_folder.hpp"
#include "strata/io/dataset/dataset.hpp"
#include "strata/io/dataset/partition_source.hpp"
#include "strata/io/format/strata_file.hpp"
#include "strata/io/format/strata_writer.hpp"
#include "strata/kernels/histogram.hpp"
#include "strata/kernels/stats.hpp"

namespace {

using strata::Executor;
using strata::Topology;
using strata::io::Dataset;

constexpr std::uint64_t kFileChunk = 4096;  // 512 doubles per checksum chunk
constexpr std::size_t kChunks = 16;         // checksum chunks in the file
constexpr std::size_t kValues = kChunks * kFileChunk / sizeof(double);

// The executor keeps a reference to its topology: one that outlives every test.
const Topology& two_cores() {
  static const Topology topology = Topology::synthetic("pack:1 numa:1 core:2 pu:1");
  return topology;
}

class PartitionReduce : public strata::test::ScratchFolderTest {
 protected:
  PartitionReduce() : ScratchFolderTest("strata-partition-reduce") {}

  // "x": f64 [kValues], random values of many magnitudes (their sum depends on the order).
  std::string write_file() {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> exponent(-6.0, 6.0);
    std::vector<double> v(kValues);
    for (auto& x : v) x = ((rng() & 1) ? 1.0 : -1.0) * std::pow(10.0, exponent(rng));
    const std::string file = path("x.strata");
    strata::io::StrataWriter w(file, {{"x", strata::DType::f64, {kValues}, kFileChunk}});
    w.append(0, std::as_bytes(std::span(v)));
    w.finish();
    return file;
  }

  // Flips one byte inside checksum chunk `chunk` of array "x".
  static void flip_byte_in_chunk(const std::string& file, std::uint64_t chunk) {
    const std::uint64_t data = strata::io::StrataFile::open(file).array("x").data_offset;
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(data + chunk * kFileChunk + 123));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x20);
    f.seekp(static_cast<std::streamoff>(data + chunk * kFileChunk + 123));
    f.write(&c, 1);
  }
};

// Proves a flipped byte in chunk k makes the one-pass stats fail with an Error naming the file,
// the array and chunk k, with 1 and with 2 threads (it would pass silently if a chunk went unread
// or unverified).
TEST_F(PartitionReduce, BadChunkIsAnErrorNamingIt) {
  for (std::uint64_t k : {std::uint64_t{0}, std::uint64_t{9}, std::uint64_t{kChunks - 1}}) {
    const std::string file = write_file();
    flip_byte_in_chunk(file, k);
    for (unsigned threads : {1u, 2u}) {
      Executor ex(two_cores(), {.threads = threads, .chunk_bytes = kFileChunk});
      const auto part = Dataset::open(file).partition(0, 1);
      try {
        (void)strata::reduce<double>(ex, part, strata::kernels::Stats{});
        ADD_FAILURE() << "no error for chunk " << k << " with " << threads << " threads";
      } catch (const strata::Error& e) {
        EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data);
        EXPECT_EQ(e.context_value("chunk"), std::to_string(k)) << threads << " threads";
        EXPECT_EQ(e.context_value("array"), "x");
        EXPECT_EQ(e.context_value("file"), file);
      }
    }
  }
}

// An accumulator that notes whether it was ever handed a byte of the range [bad_lo, bad_hi).
struct WatchRange {
  static inline std::atomic<const std::byte*> bad_lo{nullptr}, bad_hi{nullptr};
  static inline std::atomic<bool> saw_bad{false};
  void add(std::span<const double> values) {
    const auto* lo = reinterpret_cast<const std::byte*>(values.data());
    const auto* hi = lo + values.size_bytes();
    if (lo < bad_hi.load() && bad_lo.load() < hi) saw_bad.store(true);
  }
  void merge(const WatchRange&) {}
};

// Proves no value of a bad chunk reaches the accumulator, with 1 and 2 threads: the chunk is
// verified before the kernel is called on it (it would see the chunk if verification came after).
TEST_F(PartitionReduce, UnverifiedValuesNeverReachTheAccumulator) {
  constexpr std::uint64_t kBad = 6;
  const std::string file = write_file();
  flip_byte_in_chunk(file, kBad);
  for (unsigned threads : {1u, 2u}) {
    Executor ex(two_cores(), {.threads = threads, .chunk_bytes = kFileChunk});
    const auto part = Dataset::open(file).partition(0, 1);
    // The mapping's address, from a view of good chunk 0.
    const std::byte* base = part.bytes(0, 8).data();
    WatchRange::bad_lo = base + kBad * kFileChunk;
    WatchRange::bad_hi = base + (kBad + 1) * kFileChunk;
    WatchRange::saw_bad = false;
    EXPECT_THROW((void)strata::reduce<double>(ex, part, WatchRange{}), strata::Error);
    EXPECT_FALSE(WatchRange::saw_bad.load()) << threads << " threads";
  }
}

// Proves each checksum chunk is verified exactly once per pass with 2 threads — and not again by a
// second pass — counted by the Dataset's statistic, not by timing.
TEST_F(PartitionReduce, EachChunkIsVerifiedOnce) {
  const std::string file = write_file();
  Executor ex(two_cores(), {.threads = 2, .chunk_bytes = kFileChunk});
  const auto part = Dataset::open(file).partition(0, 1);
  EXPECT_EQ(part.chunks_verified(), 0u);
  (void)strata::reduce<double>(ex, part, strata::kernels::Stats{});
  EXPECT_EQ(part.chunks_verified(), kChunks);
  (void)strata::reduce<double>(ex, part, strata::kernels::Histogram(-1.0, 1.0, 8));
  EXPECT_EQ(part.chunks_verified(), kChunks);
}

// Proves a partition that starts inside a checksum chunk (rank 1 of 3: rows 2731..5461, bytes
// 21848..43696, chunks 5..10) verifies each of its chunks once although two executor chunks share
// each boundary chunk.
TEST_F(PartitionReduce, MisalignedPartitionVerifiesEachChunkOnce) {
  const std::string file = write_file();
  Executor ex(two_cores(), {.threads = 2, .chunk_bytes = kFileChunk});
  const auto part = Dataset::open(file).partition(1, 3);
  ASSERT_EQ(part.rows().first, 2731u);
  ASSERT_NE(part.checksum_chunk_offset(), 0u);
  const auto s = strata::reduce<double>(ex, part, strata::kernels::Stats{});
  EXPECT_EQ(s.count, part.rows().count);
  EXPECT_EQ(part.chunks_verified(), 6u);
}

// Proves threads asking at once for pieces of one checksum chunk verify it once: the others wait
// for the verdict instead of checking it again (or reading it unchecked).
TEST_F(PartitionReduce, ConcurrentReadersOfOneChunkVerifyItOnce) {
  const std::string file = write_file();
  const auto part = Dataset::open(file).partition(0, 1);
  std::vector<std::thread> readers;
  for (std::uint64_t t = 0; t < 8; ++t) {
    readers.emplace_back([&part, t] { (void)part.bytes(kFileChunk * 3 + t * 256, 256); });
  }
  for (auto& r : readers) r.join();
  EXPECT_EQ(part.chunks_verified(), 1u);
}

// Proves the one-pass stats and histogram have the bits of the old path (all of as<T>() verified
// first, then reduce over the span) for the same chunking, with 1 and 2 threads.
TEST_F(PartitionReduce, BitIdenticalToTheTwoPassPath) {
  const std::string file = write_file();
  for (unsigned threads : {1u, 2u}) {
    Executor ex(two_cores(), {.threads = threads, .chunk_bytes = kFileChunk});
    const auto one_pass = Dataset::open(file).partition(0, 1);
    const auto two_pass = Dataset::open(file).partition(0, 1);
    const auto a = strata::reduce<double>(ex, one_pass, strata::kernels::Stats{});
    const auto b = strata::reduce(ex, two_pass.as<double>(), strata::kernels::Stats{});
    EXPECT_EQ(a.count, b.count);
    EXPECT_EQ(std::bit_cast<std::uint64_t>(a.sum), std::bit_cast<std::uint64_t>(b.sum));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(a.sum_low), std::bit_cast<std::uint64_t>(b.sum_low));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(a.mean), std::bit_cast<std::uint64_t>(b.mean));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(a.m2), std::bit_cast<std::uint64_t>(b.m2));
    EXPECT_EQ(a.min, b.min);
    EXPECT_EQ(a.max, b.max);
    const strata::kernels::Histogram empty(-1.0, 1.0, 16);
    EXPECT_EQ(strata::reduce<double>(ex, one_pass, empty).counts(),
              strata::reduce(ex, two_pass.as<double>(), empty).counts());
  }
}

// Proves the executor chunk for a partition is a whole number of checksum chunks (nearest, at
// least one), and the executor's own chunk for data without checksums.
TEST_F(PartitionReduce, ExecutorChunksAlignWithChecksumChunks) {
  const auto part = Dataset::open(write_file()).partition(0, 1);
  EXPECT_EQ(strata::io::reduce_chunk_elements(part, 1024, 8), kFileChunk / 8);
  EXPECT_EQ(strata::io::reduce_chunk_elements(part, 4096 * 3 + 100, 8), 3 * kFileChunk / 8);
  EXPECT_EQ(strata::io::reduce_chunk_elements(part, 4096 * 3 + 2100, 8), 4 * kFileChunk / 8);
  EXPECT_EQ(part.checksum_chunk_bytes(), kFileChunk);
}

}  // namespace
