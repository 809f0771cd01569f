// SPDX-License-Identifier: Apache-2.0
// Tests of streaming: a 512 MiB file scanned with a 32 MiB window keeps the process's resident
// share of the file (RssFile + RssShmem, so the page cache does not count) within the window plus
// slack while a plain scan does not; results are right; heap memory is never released.
#include "strata/scheduler/streaming.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "strata/runtime/files/mapped_file.hpp"
#include "test_accumulators.hpp"

namespace {

using strata::Executor;
using strata::MappedFile;
using strata::StreamRelease;
using strata::Topology;

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kFileBytes = 512 * kMiB;
constexpr std::size_t kWindowBytes = 32 * kMiB;
// Fault-around, chunk rounding and the read-ahead step's first faults, generously.
constexpr std::size_t kSlackBytes = 16 * kMiB;

// The process's resident file-backed memory, in bytes: RssFile plus RssShmem from
// /proc/self/status (a file in a tmpfs temp folder is shmem). Anonymous memory and the page cache
// do not count.
std::uint64_t rss_file_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  std::uint64_t total = 0;
  while (status >> key) {
    if (key == "RssFile:" || key == "RssShmem:") {
      std::uint64_t kib = 0;
      status >> kib;
      total += kib * 1024;
    }
    status.ignore(4096, '\n');
  }
  return total;
}

// Sums the values and records the largest RssFile seen while any chunk was being added.
struct RssProbe {
  std::uint64_t sum = 0;
  std::uint64_t count = 0;
  std::uint64_t peak_rss = 0;
  void add(std::span<const std::uint64_t> values) {
    for (std::uint64_t v : values) sum += v;
    count += values.size();
    peak_rss = std::max(peak_rss, rss_file_bytes());
  }
  void merge(const RssProbe& other) {
    sum += other.sum;
    count += other.count;
    peak_rss = std::max(peak_rss, other.peak_rss);
  }
};

// A 512 MiB file of the values 0, 1, 2, ... as u64, written once per test process.
class Streaming : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = (std::filesystem::temp_directory_path() /
             ("strata-stream-" + std::to_string(::getpid()) + ".bin"))
                .string();
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    std::vector<std::uint64_t> block(kMiB / 8);
    for (std::size_t done = 0; done < kFileBytes; done += kMiB) {
      std::iota(block.begin(), block.end(), done / 8);
      out.write(reinterpret_cast<const char*>(block.data()), kMiB);
    }
    ASSERT_TRUE(out.good());
  }
  static void TearDownTestSuite() { std::filesystem::remove(path_); }

  static constexpr std::uint64_t kValues = kFileBytes / 8;
  static constexpr std::uint64_t kExpectedSum = kValues * (kValues - 1) / 2;

  RssProbe scan(StreamRelease release) {
    MappedFile file = MappedFile::open(path_);
    auto bytes = file.bytes(0, file.size());
    std::span<const std::uint64_t> values(reinterpret_cast<const std::uint64_t*>(bytes.data()),
                                          bytes.size() / 8);
    baseline_ = rss_file_bytes();
    RssProbe r = strata::reduce_streaming(ex_, values, RssProbe{},
                                          {.window_bytes = kWindowBytes, .release = release});
    after_ = rss_file_bytes();
    return r;
  }

  static inline std::string path_;
  Topology topo_ = Topology::load();
  Executor ex_{topo_, {.threads = 2}};
  std::uint64_t baseline_ = 0;
  std::uint64_t after_ = 0;
};

// Proves a streamed scan of a file 16 times the window keeps the process's resident share of the
// file within the window plus slack at every chunk, and gives the right sum.
TEST_F(Streaming, ResidentSetStaysWithinTheWindow) {
  RssProbe r = scan(StreamRelease::dontneed);
  EXPECT_EQ(r.count, kValues);
  EXPECT_EQ(r.sum, kExpectedSum);
  EXPECT_LE(r.peak_rss, baseline_ + kWindowBytes + kSlackBytes)
      << "peak RssFile grew by " << (r.peak_rss - baseline_) / kMiB << " MiB";
  EXPECT_LE(after_, baseline_ + kSlackBytes);
}

// Proves the same bound with MADV_PAGEOUT, which also evicts the file from the page cache.
TEST_F(Streaming, PageoutReleaseAlsoStaysWithinTheWindow) {
  RssProbe r = scan(StreamRelease::pageout);
  EXPECT_EQ(r.sum, kExpectedSum);
  EXPECT_LE(r.peak_rss, baseline_ + kWindowBytes + kSlackBytes)
      << "peak RssFile grew by " << (r.peak_rss - baseline_) / kMiB << " MiB";
}

// Proves the bound means something: the same scan without release ends with most of the file in
// the resident set, far above window plus slack.
TEST_F(Streaming, PlainScanExceedsTheBound) {
  RssProbe r = scan(StreamRelease::keep);
  EXPECT_EQ(r.sum, kExpectedSum);
  EXPECT_GT(after_, baseline_ + 4 * (kWindowBytes + kSlackBytes))
      << "RssFile grew by only " << (after_ - baseline_) / kMiB << " MiB";
}

// Proves streaming over heap memory never releases it (MADV_DONTNEED would zero anonymous pages):
// a second pass sees the same values.
TEST(StreamingSafety, HeapMemoryIsNeverReleased) {
  Topology topo = Topology::load();
  Executor ex(topo, {.threads = 2, .chunk_bytes = 64 * 1024});
  std::vector<std::uint64_t> values(8 * kMiB / 8);
  std::iota(values.begin(), values.end(), 1);
  const std::uint64_t n = values.size();
  for (int pass = 0; pass < 2; ++pass) {
    RssProbe r = strata::reduce_streaming(ex, values, RssProbe{}, {.window_bytes = kMiB});
    EXPECT_EQ(r.sum, n * (n + 1) / 2) << "pass " << pass;
  }
}

// Proves the result of streaming equals reduce() over the same data for an exact accumulator,
// whatever the window, and that a size that is not whole elements is refused.
TEST(StreamingSafety, MatchesReduceAndChecksSizes) {
  Topology topo = Topology::synthetic("pack:2 numa:1 core:1 pu:1");
  Executor ex(topo, {.chunk_bytes = 4096});
  std::vector<std::int64_t> v(100'001);
  std::iota(v.begin(), v.end(), -50'000);
  const auto whole = strata::reduce(ex, v, strata::testing::IntSum{});
  for (std::size_t window : {std::size_t{1}, std::size_t{8192}, std::size_t{100'000}, 64 * kMiB}) {
    auto streamed =
        strata::reduce_streaming(ex, v, strata::testing::IntSum{}, {.window_bytes = window});
    EXPECT_EQ(streamed.sum, whole.sum);
    EXPECT_EQ(streamed.squares, whole.squares);
    EXPECT_EQ(streamed.count, whole.count);
  }
  auto bytes = strata::ByteSource::from_memory(std::as_bytes(std::span(v)).first(12));
  EXPECT_THROW(strata::reduce_streaming<std::int64_t>(ex, bytes, strata::testing::IntSum{}),
               strata::Error);
}

}  // namespace
