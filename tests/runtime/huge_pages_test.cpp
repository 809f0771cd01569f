// SPDX-License-Identifier: Apache-2.0
// Tests of the huge-page and THP queries against prepared sysfs trees and the real kernel.
#include "strata/runtime/machine/huge_pages.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace fs = std::filesystem;

// Reads one "Key: value" number from /proc/meminfo (an independent source to check against).
std::uint64_t meminfo_value(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream fields(line.substr(key.size() + 1));
      std::uint64_t v = 0;
      fields >> v;
      return v;
    }
  }
  return 0;
}

// Proves the bracketed THP choice is the one parsed, and unbracketed text means unavailable.
TEST(HugePages, ParsesThpMode) {
  EXPECT_EQ(strata::parse_thp_mode("always [madvise] never\n"), strata::ThpMode::madvise);
  EXPECT_EQ(strata::parse_thp_mode("[always] madvise never"), strata::ThpMode::always);
  EXPECT_EQ(strata::parse_thp_mode("always madvise [never]"), strata::ThpMode::never);
  EXPECT_EQ(strata::parse_thp_mode(""), strata::ThpMode::unavailable);
  EXPECT_EQ(strata::transparent_huge_page_mode("/nonexistent"), strata::ThpMode::unavailable);
}

// Proves pool counts are read per size from a prepared sysfs tree, sorted by page size, and
// foreign folders are ignored.
TEST(HugePages, ReadsPreparedSysfsTree) {
  fs::path root = fs::temp_directory_path() / ("strata-hp-" + std::to_string(getpid()));
  auto write = [&](const std::string& dir, const std::string& file, int value) {
    fs::create_directories(root / dir);
    std::ofstream(root / dir / file) << value << '\n';
  };
  write("hugepages-1048576kB", "nr_hugepages", 2);
  write("hugepages-1048576kB", "free_hugepages", 1);
  write("hugepages-2048kB", "nr_hugepages", 64);
  write("hugepages-2048kB", "free_hugepages", 60);
  write("hugepages-2048kB", "resv_hugepages", 3);
  write("not-a-pool", "nr_hugepages", 9);
  auto sizes = strata::huge_page_sizes(root.string());
  fs::remove_all(root);
  ASSERT_EQ(sizes.size(), 2u);
  EXPECT_EQ(sizes[0].page_bytes, 2u << 20);
  EXPECT_EQ(sizes[0].total_pages, 64u);
  EXPECT_EQ(sizes[0].free_pages, 60u);
  EXPECT_EQ(sizes[0].reserved_pages, 3u);
  EXPECT_EQ(sizes[1].page_bytes, 1u << 30);
  EXPECT_EQ(sizes[1].total_pages, 2u);
  EXPECT_TRUE(strata::huge_page_sizes("/nonexistent").empty());
}

// Proves the real default huge page size and its pool agree with /proc/meminfo.
TEST(HugePages, AgreesWithProcMeminfo) {
  std::uint64_t default_kib = meminfo_value("Hugepagesize");
  if (default_kib == 0) GTEST_SKIP() << "kernel without hugetlb";
  bool found = false;
  for (const auto& hp : strata::huge_page_sizes()) {
    if (hp.page_bytes == default_kib * 1024) {
      found = true;
      EXPECT_EQ(hp.total_pages, meminfo_value("HugePages_Total"));
      EXPECT_EQ(hp.free_pages, meminfo_value("HugePages_Free"));
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
