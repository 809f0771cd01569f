// SPDX-License-Identifier: Apache-2.0
// Tests of io::load: every memory mode gives the bits of the mapped pass, reports name the page
// kind smaps shows, node-shared leaves nothing in /dev/shm, a corrupt chunk fails the resident
// load, a bad mode is one clear error, and reserved 2 MiB pages are what a resident load gets.
#include "strata/io/dataset/dataset_memory.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "common/hugepage_reservation.hpp"
#include "strata/io/format/strata_writer.hpp"
#include "strata/kernels/stats.hpp"
#include "strata/runtime/machine/huge_pages.hpp"
#include "strata/runtime/machine/mapping_pages.hpp"

namespace {

namespace fs = std::filesystem;
using strata::io::DataMemory;

std::string temp(const std::string& name) {
  return (fs::temp_directory_path() / ("strata-memory-" + std::to_string(getpid()) + "-" + name))
      .string();
}

// A .strata file of `rows` x 4 doubles with irregular values (sums depend on the merge order),
// in 64 KiB checksum chunks.
std::string write_doubles(const std::string& name, std::size_t rows) {
  std::vector<double> v(rows * 4);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = 1.0 / static_cast<double>(i + 3) + static_cast<double>(i % 97);
  strata::io::StrataWriter w(temp(name), {{"v", strata::DType::f64, {rows, 4}, 65536}});
  w.append(0, std::as_bytes(std::span(v)));
  w.finish();
  return temp(name);
}

// Names in /dev/shm of this user's segments made outside Slurm by this process.
std::vector<std::string> own_segments() {
  std::vector<std::string> out;
  const std::string prefix =
      "strata-u" + std::to_string(::geteuid()) + "-p" + std::to_string(::getpid()) + "-";
  for (const auto& e : fs::directory_iterator("/dev/shm")) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().string());
  }
  return out;
}

bool known_page_kind(const std::string& pages) {
  return pages == "4 KiB" || pages == "hugetlb 2 MiB" || pages == "hugetlb 1 GiB" ||
         pages.rfind("2 MiB (THP) for ", 0) == 0;
}

// Proves resident and node-shared give bit-identical statistics to the mapped pass, that the
// loaded bytes equal the file's, that each report names the mode asked and a page kind smaps
// shows, and that the node-shared segment's name is gone once the load returns.
TEST(DataMemory, EveryModeGivesTheBitsOfMapped) {
  const std::string path = write_doubles("same.strata", 300'001);
  strata::Runtime rt({.install_stop_signals = false});
  strata::Executor ex(rt, {.threads = 2});
  auto ds = strata::io::Dataset::open(path);
  auto part = ds.partition(0, 1);
  auto mapped = strata::io::load(rt, ex, part, {.memory = DataMemory::mapped});
  EXPECT_EQ(mapped.report().memory, DataMemory::mapped);
  EXPECT_TRUE(known_page_kind(mapped.report().pages)) << mapped.report().pages;
  const auto want = strata::reduce<double>(ex, mapped, strata::kernels::Stats{}).summary();
  const auto expected_bytes = part.bytes();
  for (DataMemory m : {DataMemory::resident, DataMemory::node_shared}) {
    SCOPED_TRACE(std::string(strata::io::to_string(m)));
    auto data = strata::io::load(rt, ex, part, {.memory = m});
    EXPECT_EQ(data.report().memory, m);
    EXPECT_FALSE(data.report().automatic);
    ASSERT_EQ(data.loaded().size(), expected_bytes.size());
    EXPECT_TRUE(std::equal(expected_bytes.begin(), expected_bytes.end(), data.loaded().begin()));
    const auto got = strata::reduce<double>(ex, data, strata::kernels::Stats{}).summary();
    EXPECT_EQ(got.count, want.count);
    EXPECT_EQ(got.sum, want.sum);
    EXPECT_EQ(*got.mean, *want.mean);
    EXPECT_EQ(*got.variance, *want.variance);
    EXPECT_EQ(*got.min, *want.min);
    EXPECT_EQ(*got.max, *want.max);
    const std::string kind =
        strata::mapping_pages(data.loaded().data(), data.loaded().size()).kind();
    EXPECT_EQ(data.report().pages, kind);
    EXPECT_TRUE(known_page_kind(data.report().pages)) << data.report().pages;
  }
  EXPECT_TRUE(own_segments().empty());
  fs::remove(path);
}

// Proves a rank's partition that starts inside a checksum chunk loads exactly (its edge chunks are
// verified through the mapping, the others on the copy).
TEST(DataMemory, PartitionOffTheChunkGridLoadsExactly) {
  const std::string path = write_doubles("offgrid.strata", 100'003);
  strata::Runtime rt({.install_stop_signals = false});
  strata::Executor ex(rt, {.threads = 2, .chunk_bytes = 4096});
  auto part = strata::io::Dataset::open(path).partition(1, 3);
  ASSERT_NE(part.checksum_chunk_offset(), 0u);
  auto data = strata::io::load(rt, ex, part, {.memory = DataMemory::resident});
  const auto expected = part.bytes();
  ASSERT_EQ(data.loaded().size(), expected.size());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), data.loaded().begin()));
  fs::remove(path);
}

// Proves a flipped byte fails the resident load with Error(corrupt_data): the copy is verified.
TEST(DataMemory, CorruptChunkFailsTheResidentLoad) {
  const std::string path = write_doubles("bad.strata", 100'000);
  std::uint64_t data_offset = strata::io::StrataFile::open(path).array("v").data_offset;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(data_offset + 700'001));
    f.put('\x5a');
  }
  strata::Runtime rt({.install_stop_signals = false});
  strata::Executor ex(rt, {.threads = 2});
  auto part = strata::io::Dataset::open(path).partition(0, 1);
  try {
    strata::io::load(rt, ex, part, {.memory = DataMemory::resident});
    ADD_FAILURE() << "a corrupt chunk loaded";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data);
    EXPECT_NE(std::string(e.what()).find("chunk"), std::string::npos) << e.what();
  }
  fs::remove(path);
}

// Proves the mode names round-trip and an unknown one is Error(invalid_argument) listing them.
TEST(DataMemory, ModeNamesParse) {
  for (DataMemory m :
       {DataMemory::automatic, DataMemory::mapped, DataMemory::resident, DataMemory::node_shared}) {
    EXPECT_EQ(strata::io::parse_data_memory(strata::io::to_string(m)), m);
  }
  try {
    strata::io::parse_data_memory("fast");
    ADD_FAILURE() << "'fast' parsed";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("node-shared"), std::string::npos) << e.what();
  }
}

// Proves the automatic choice is made and said: one rank alone reads its rows once, so it stays
// mapped (a copy would read every byte twice).
TEST(DataMemory, AutomaticSaysWhatItChose) {
  const std::string path = write_doubles("auto.strata", 10'000);
  strata::Runtime rt({.install_stop_signals = false});
  strata::Executor ex(rt, {.threads = 1});
  auto part = strata::io::Dataset::open(path).partition(0, 1);
  auto data = strata::io::load(rt, ex, part);
  EXPECT_TRUE(data.report().automatic);
  EXPECT_EQ(data.report().memory, DataMemory::mapped);
  EXPECT_NE(data.report().reason.find("once"), std::string::npos) << data.report().reason;
  fs::remove(path);
}

// Proves that with 2 MiB pages reserved a resident load gets hugetlb 2 MiB pages and says so
// (smaps' KernelPageSize).
TEST(DataMemory, ReservedHugePagesAreWhatResidentGets) {
  const std::string path = write_doubles("huge.strata", 262'144);  // 8 MiB
  strata::test::HugePageReservation reserve(2048, 8);
  if (reserve.reserved() < 4 || strata::huge_page_sizes().empty() ||
      strata::huge_page_sizes().front().free_pages < 4) {
    fs::remove(path);
    GTEST_SKIP() << "cannot reserve 2 MiB pages here (not root, or memory too fragmented)";
  }
  strata::Runtime rt({.install_stop_signals = false});
  strata::Executor ex(rt, {.threads = 2});
  auto part = strata::io::Dataset::open(path).partition(0, 1);
  auto data = strata::io::load(
      rt, ex, part, {.memory = DataMemory::resident, .largest_pages = strata::PageSize::huge_2m});
  EXPECT_EQ(data.report().pages, "hugetlb 2 MiB");
  EXPECT_EQ(data.report().huge_bytes, 8u << 20);
  fs::remove(path);
}

}  // namespace
