// SPDX-License-Identifier: Apache-2.0
// Tests of MappedViewCache: window reuse, least-recently-used eviction under the mapping budget
// (checked against /proc/self/maps, not only the cache's own statistics), held views never
// unmapped, the cap on pooled file handles (checked in /proc/self/fd), truncated and replaced
// files.
#include "strata/runtime/files/mapped_view_cache.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::MappedViewCache;

constexpr std::uint64_t kMiB = 1 << 20;

unsigned char pattern(std::uint64_t i) { return static_cast<unsigned char>((i >> 12) * 31 + i); }

// A file of `bytes` bytes where byte i is pattern(i), removed when the test ends.
class PatternFile {
 public:
  PatternFile(const std::string& name, std::uint64_t bytes, unsigned char salt = 0)
      : path_((std::filesystem::temp_directory_path() /
               ("strata-mvc-" + std::to_string(::getpid()) + "-" + name))
                  .string()) {
    write(path_, bytes, salt);
  }
  ~PatternFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

  static void write(const std::string& path, std::uint64_t bytes, unsigned char salt) {
    std::string data(bytes, '\0');
    for (std::uint64_t i = 0; i < bytes; ++i) data[i] = static_cast<char>(pattern(i) ^ salt);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  }

 private:
  std::string path_;
};

bool matches(const strata::MappedView& v, unsigned char salt = 0) {
  for (std::uint64_t i = 0; i < v.bytes().size(); ++i) {
    if (static_cast<unsigned char>(v.bytes()[i]) != (pattern(v.offset() + i) ^ salt)) return false;
  }
  return true;
}

// Bytes of this process's address space mapped from `path`, as the kernel lists them.
std::uint64_t kernel_mapped_bytes(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::uint64_t total = 0;
  while (std::getline(maps, line)) {
    bool ends_with_path = line.size() >= path.size() &&
                          line.compare(line.size() - path.size(), path.size(), path) == 0;
    if (!ends_with_path) continue;
    unsigned long long start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx", &start, &end) == 2) total += end - start;
  }
  return total;
}

// Descriptors of this process open on `path`, as the kernel lists them.
std::size_t kernel_open_handles(const std::string& path) {
  std::size_t n = 0;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(fd.path(), ec) == path) ++n;
  }
  return n;
}

// Proves a range inside an already mapped window is a hit served from the same mapping, and a
// range outside it is a miss that maps a new 2 MiB window.
TEST(MappedViewCache, HitReusesTheWindow) {
  PatternFile file("hit", 8 * kMiB);
  MappedViewCache cache(64 * kMiB, 4);
  auto a = cache.acquire(file.path(), 100, 50);
  auto b = cache.acquire(file.path(), 5000, 300);
  auto c = cache.acquire(file.path(), 3 * kMiB + 7, 10);
  EXPECT_TRUE(matches(*a));
  EXPECT_TRUE(matches(*b));
  EXPECT_TRUE(matches(*c));
  EXPECT_EQ(b->bytes().data(), a->bytes().data() + 4900);  // one mapping serves both
  EXPECT_EQ(b->path(), file.path());
  auto stats = cache.statistics();
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.mapped_windows, 2u);
  EXPECT_EQ(stats.mapped_bytes, 4 * kMiB);
  EXPECT_EQ(kernel_mapped_bytes(file.path()), 4 * kMiB);
}

// Proves a range straddling a window boundary gets one window covering both aligned windows, which
// later requests inside either half hit; and a window is cut at the end of the file.
TEST(MappedViewCache, StraddlingRangeAndFileEnd) {
  PatternFile file("straddle", 5 * kMiB + 100);
  MappedViewCache cache(64 * kMiB, 4);
  auto a = cache.acquire(file.path(), 2 * kMiB - 10, 20);
  EXPECT_TRUE(matches(*a));
  EXPECT_EQ(cache.statistics().mapped_bytes, 4 * kMiB);
  auto b = cache.acquire(file.path(), 3 * kMiB, 5);
  auto c = cache.acquire(file.path(), 10, 5);
  EXPECT_EQ(cache.statistics().hits, 2u);
  auto tail = cache.acquire(file.path(), 5 * kMiB + 50, 50);
  EXPECT_TRUE(matches(*tail));
  // The last window, [4 MiB, 6 MiB) when aligned, stops at the page holding the file's end.
  EXPECT_EQ(cache.statistics().mapped_bytes, 4 * kMiB + 1 * kMiB + 4096);
  EXPECT_EQ(kernel_mapped_bytes(file.path()), 5 * kMiB + 4096);
}

// Proves eviction takes the least recently used unheld window: after A B C and a hit on A, the
// next miss evicts B, and the cache still hits A and C.
TEST(MappedViewCache, EvictsLeastRecentlyUsed) {
  PatternFile file("lru", 16 * kMiB);
  MappedViewCache cache(6 * kMiB, 4);  // room for three 2 MiB windows
  const std::uint64_t A = 0, B = 2 * kMiB, C = 4 * kMiB, D = 6 * kMiB;
  for (auto at : {A, B, C}) cache.acquire(file.path(), at, 10);
  cache.acquire(file.path(), A + 64, 10);  // hit: most recent first, the order is now A C B
  cache.acquire(file.path(), D, 10);       // miss: must evict B
  auto s = cache.statistics();
  EXPECT_EQ(s.misses, 4u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(s.mapped_bytes, 6 * kMiB);

  cache.acquire(file.path(), A, 10);  // hit
  cache.acquire(file.path(), C, 10);  // hit; order now C A D, so B's return evicts D
  EXPECT_EQ(cache.statistics().hits, 3u);
  cache.acquire(file.path(), B, 10);  // miss (B was evicted)
  EXPECT_EQ(cache.statistics().misses, 5u);
  cache.acquire(file.path(), A, 10);  // hit: A survived B's return
  cache.acquire(file.path(), D, 10);  // miss: D was the one evicted
  s = cache.statistics();
  EXPECT_EQ(s.hits, 4u);
  EXPECT_EQ(s.misses, 6u);
  EXPECT_EQ(s.evictions, 3u);
  EXPECT_EQ(kernel_mapped_bytes(file.path()), 6 * kMiB);
}

// Proves the mapped total stays within the budget over many unheld acquires, in the cache's
// statistics and in the kernel's list of mappings.
TEST(MappedViewCache, BudgetIsRespected) {
  PatternFile file("budget", 64 * kMiB);
  MappedViewCache cache(8 * kMiB, 4);
  std::uint64_t x = 12345;
  for (int i = 0; i < 200; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    std::uint64_t offset = (x >> 11) % (64 * kMiB - 3 * kMiB);
    auto v = cache.acquire(file.path(), offset, (x >> 40) % (3 * kMiB) + 1);
    ASSERT_TRUE(matches(*v)) << offset;
    ASSERT_LE(kernel_mapped_bytes(file.path()), 8 * kMiB);  // room is made before mapping
    v.reset();
    ASSERT_LE(cache.statistics().mapped_bytes, 8 * kMiB);
    ASSERT_LE(kernel_mapped_bytes(file.path()), 8 * kMiB);
  }
  EXPECT_GT(cache.statistics().evictions, 0u);
}

// Proves views that are held are never unmapped even when they exceed the budget together, and
// that releasing them brings the mapped total back within the budget (two windows unmapped).
TEST(MappedViewCache, HeldViewsAreNeverEvicted) {
  PatternFile file("held", 16 * kMiB);
  MappedViewCache cache(4 * kMiB, 4);
  std::vector<std::shared_ptr<const strata::MappedView>> held;
  for (std::uint64_t w = 0; w < 4; ++w) {
    held.push_back(cache.acquire(file.path(), w * 2 * kMiB, 4096));
  }
  EXPECT_EQ(cache.statistics().evictions, 0u);
  EXPECT_EQ(kernel_mapped_bytes(file.path()), 8 * kMiB);
  for (const auto& v : held) EXPECT_TRUE(matches(*v));  // would fault if any had been unmapped
  held.clear();
  auto s = cache.statistics();
  EXPECT_EQ(s.evictions, 2u);
  EXPECT_EQ(s.mapped_bytes, 4 * kMiB);
  EXPECT_EQ(kernel_mapped_bytes(file.path()), 4 * kMiB);
}

// Proves a view outlives the cache that made it: its bytes stay mapped until it is released.
TEST(MappedViewCache, ViewOutlivesCache) {
  PatternFile file("outlive", 4 * kMiB);
  std::shared_ptr<const strata::MappedView> v;
  {
    MappedViewCache cache(4 * kMiB, 1);
    v = cache.acquire(file.path(), 3 * kMiB, 1000);
    cache.acquire(file.path(), 0, 1000);
  }
  EXPECT_EQ(kernel_mapped_bytes(file.path()), 2 * kMiB);  // only the held window is left
  EXPECT_EQ(kernel_open_handles(file.path()), 0u);
  EXPECT_TRUE(matches(*v));
  v.reset();
  EXPECT_EQ(kernel_mapped_bytes(file.path()), 0u);
}

// Proves no more than max_open_files handles stay open (counted in /proc/self/fd), the least
// recently used is the one closed, and windows of a closed file still hit without reopening it.
TEST(MappedViewCache, FileHandlePoolIsCapped) {
  PatternFile f1("fd1", 4 * kMiB), f2("fd2", 4 * kMiB), f3("fd3", 4 * kMiB);
  MappedViewCache cache(64 * kMiB, 2);
  cache.acquire(f1.path(), 0, 10);
  cache.acquire(f2.path(), 0, 10);
  cache.acquire(f3.path(), 0, 10);  // closes f1's handle
  auto s = cache.statistics();
  EXPECT_EQ(s.open_files, 2u);
  EXPECT_EQ(s.files_opened, 3u);
  EXPECT_EQ(kernel_open_handles(f1.path()), 0u);
  EXPECT_EQ(kernel_open_handles(f2.path()), 1u);
  EXPECT_EQ(kernel_open_handles(f3.path()), 1u);

  EXPECT_TRUE(matches(*cache.acquire(f1.path(), 100, 10)));  // a hit needs no handle
  EXPECT_EQ(cache.statistics().files_opened, 3u);
  EXPECT_EQ(kernel_open_handles(f1.path()), 0u);

  cache.acquire(f1.path(), 3 * kMiB, 10);  // a miss reopens f1 and closes f2, the least recent
  s = cache.statistics();
  EXPECT_EQ(s.open_files, 2u);
  EXPECT_EQ(s.files_opened, 4u);
  EXPECT_EQ(kernel_open_handles(f1.path()), 1u);
  EXPECT_EQ(kernel_open_handles(f2.path()), 0u);
}

// Proves a file truncated after its window was mapped gives Error(corrupt_data) naming the file
// for a range past the new end — even on what would be a hit — and no SIGBUS.
TEST(MappedViewCache, TruncatedFileIsAnError) {
  PatternFile file("trunc", 4 * kMiB);
  MappedViewCache cache(64 * kMiB, 2);
  cache.acquire(file.path(), 0, 10);
  std::filesystem::resize_file(file.path(), 4096);
  try {
    auto v = cache.acquire(file.path(), 1 * kMiB, 100);
    ADD_FAILURE() << "a view past the end of a truncated file, first byte "
                  << static_cast<int>(v->bytes()[0]);
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data);
    EXPECT_EQ(e.context_value("file"), file.path());
  }
  EXPECT_TRUE(matches(*cache.acquire(file.path(), 0, 4096)));
}

// Proves a file replaced under the same path (a new inode) is served from the new file, not from
// windows of the old one.
TEST(MappedViewCache, ReplacedFileIsRemapped) {
  PatternFile file("replace", 2 * kMiB);
  MappedViewCache cache(64 * kMiB, 2);
  auto old_view = cache.acquire(file.path(), 0, 4096);
  std::string fresh = file.path() + ".new";
  PatternFile::write(fresh, 2 * kMiB, 0x5a);
  std::filesystem::rename(fresh, file.path());
  auto v = cache.acquire(file.path(), 0, 4096);
  EXPECT_TRUE(matches(*v, 0x5a));
  EXPECT_TRUE(matches(*old_view));  // the old file's view stays valid for its holder
  EXPECT_EQ(cache.statistics().misses, 2u);
}

// Proves concurrent acquires from several threads see the right bytes, are all counted, and
// leave the cache within its budget.
TEST(MappedViewCache, ThreadSafe) {
  PatternFile file("threads", 32 * kMiB);
  MappedViewCache cache(8 * kMiB, 2);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  constexpr int kPerThread = 300;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::uint64_t x = 99 + t;
      for (int i = 0; i < kPerThread; ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        auto v = cache.acquire(file.path(), (x >> 11) % (31 * kMiB), 4096);
        if (!matches(*v)) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  auto s = cache.statistics();
  EXPECT_EQ(s.hits + s.misses, 4u * kPerThread);
  EXPECT_LE(s.mapped_bytes, 8 * kMiB);
  EXPECT_LE(kernel_mapped_bytes(file.path()), 8 * kMiB);
}

// Proves bad construction arguments and missing files are refused with the right category.
TEST(MappedViewCache, RejectsBadArguments) {
  for (auto make : {+[] { MappedViewCache c(0, 1); }, +[] { MappedViewCache c(kMiB, 0); },
                    +[] { MappedViewCache c(kMiB, 1, 1000); }}) {
    try {
      make();
      ADD_FAILURE() << "accepted";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
    }
  }
  MappedViewCache cache(kMiB, 1);
  try {
    cache.acquire("/nonexistent/strata-file", 0, 1);
    ADD_FAILURE() << "accepted a missing file";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::io);
    EXPECT_EQ(e.context_value("file"), "/nonexistent/strata-file");
  }
}

}  // namespace
