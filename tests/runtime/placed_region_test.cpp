// SPDX-License-Identifier: Apache-2.0
// Tests of PlacedRegion: placement policies, the huge-page fallback chain checked against the
// kernel, populate, mlock limits, memory-pressure refusal and file-backed regions.
#include "strata/runtime/memory/placed_region.hpp"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/hugepage_reservation.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/machine/huge_pages.hpp"
#include "strata/runtime/machine/memory_availability.hpp"

namespace {

using strata::Placement;
using strata::PlacedRegion;
using strata::PageSize;
using strata::RegionOptions;

constexpr std::size_t kMiB = 1 << 20;

const strata::Topology& machine() {
  static strata::Topology topo = strata::Topology::load();
  return topo;
}

std::uint64_t free_huge_pages(std::uint64_t page_bytes) {
  for (const auto& hp : strata::huge_page_sizes()) {
    if (hp.page_bytes == page_bytes) return hp.free_pages;
  }
  return 0;
}

// Proves every policy succeeds on this machine, and that after populate the sampled pages are
// resident on a node the policy allows (node 0 on a one-node machine).
TEST(PlacedRegion, PoliciesPlacePagesOnAllowedNodes) {
  for (Placement p : {Placement::local(), Placement::bind(0), Placement::interleave(),
                      Placement::preferred(0)}) {
    SCOPED_TRACE(p.to_string());
    auto r = PlacedRegion::allocate(machine(), 32 * kMiB,
                                    {.placement = p, .largest_pages = PageSize::base, .populate = true});
    EXPECT_TRUE(r.placement_applied());
    EXPECT_EQ(r.placement(), p);
    auto where = r.residency(32);
    ASSERT_TRUE(where.known);
    EXPECT_EQ(where.not_present, 0u);
    std::size_t on_allowed = 0;
    for (std::size_t node = 0; node < where.pages_per_node.size(); ++node) {
      bool allowed = p.nodes().empty() ||
                     std::find(p.nodes().begin(), p.nodes().end(), node) != p.nodes().end();
      if (allowed || p.policy() == strata::PlacementPolicy::preferred) {
        on_allowed += where.pages_per_node[node];
      }
    }
    EXPECT_EQ(on_allowed, where.sampled);
  }
}

// Proves pages are reported not present before first touch and present after, i.e. residency
// really asks the kernel.
TEST(PlacedRegion, ResidencyFollowsFirstTouch) {
  auto r = PlacedRegion::allocate(machine(), 16 * kMiB, {.largest_pages = PageSize::base});
  auto before = r.residency(16);
  EXPECT_EQ(before.not_present, before.sampled);
  std::memset(r.data(), 1, r.size());
  auto after = r.residency(16);
  EXPECT_EQ(after.not_present, 0u);
  EXPECT_EQ(r.page_report().resident_bytes, 16 * kMiB);
}

// Proves a request for 2 MiB hugetlb pages really gets them when the pool has them: the kernel
// reports 2 MiB pages for the range and the pool's free count drops by the region's pages.
TEST(PlacedRegion, ReservedTwoMegabytePagesAreUsed) {
  strata::test::HugePageReservation reservation(2048, 16);
  if (reservation.reserved() < 8) GTEST_SKIP() << "cannot reserve 2 MiB pages (not root?)";
  std::uint64_t free_before = free_huge_pages(2 * kMiB);
  {
    auto r = PlacedRegion::allocate(machine(), 8 * kMiB,
                                    {.largest_pages = PageSize::huge_2m, .allow_fallback = false,
                                     .populate = true});
    EXPECT_EQ(r.page_size(), PageSize::huge_2m);
    EXPECT_EQ(r.page_report().kernel_page_bytes, 2 * kMiB);
    EXPECT_EQ(free_huge_pages(2 * kMiB), free_before - 4);
    std::memset(r.data(), 7, r.size());
    EXPECT_EQ(static_cast<int>(r.data()[r.size() - 1]), 7);
  }
  EXPECT_EQ(free_huge_pages(2 * kMiB), free_before);
}

// Proves asking for 1 GiB pages with none reserved falls back down the chain, records why, and
// reports the page size the kernel actually gave.
TEST(PlacedRegion, OneGigabyteRequestFallsBackAndSaysWhy) {
  if (free_huge_pages(std::size_t{1} << 30) > 0) GTEST_SKIP() << "1 GiB pages are reserved here";
  auto r = PlacedRegion::allocate(machine(), std::size_t{1} << 30,
                                  {.largest_pages = PageSize::huge_1g, .populate = false});
  EXPECT_NE(r.page_size(), PageSize::huge_1g);
  ASSERT_FALSE(r.fallbacks().empty());
  EXPECT_EQ(r.fallbacks()[0].rfind("huge_1g: ", 0), 0u) << r.fallbacks()[0];
  auto report = r.page_report();
  if (r.page_size() == PageSize::huge_2m) {
    EXPECT_EQ(report.kernel_page_bytes, 2 * kMiB);
  } else {
    EXPECT_EQ(report.kernel_page_bytes, strata::base_page_bytes());
    EXPECT_EQ(report.transparent_advised, r.page_size() == PageSize::transparent);
  }
}

// Proves that refusing fallback turns a missing page size into a resource error.
TEST(PlacedRegion, NoFallbackMeansError) {
  if (free_huge_pages(std::size_t{1} << 30) > 0) GTEST_SKIP() << "1 GiB pages are reserved here";
  try {
    PlacedRegion::allocate(machine(), std::size_t{1} << 30,
                           {.largest_pages = PageSize::huge_1g, .allow_fallback = false});
    FAIL() << "allocated 1 GiB pages that are not there";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::resource);
  }
}

// Proves transparent huge pages are advised and, once touched, the kernel backs the range with
// huge pages (THP mode here is madvise).
TEST(PlacedRegion, TransparentHugePagesAreAdvisedAndUsed) {
  if (strata::transparent_huge_page_mode() == strata::ThpMode::never ||
      strata::transparent_huge_page_mode() == strata::ThpMode::unavailable) {
    GTEST_SKIP() << "THP disabled";
  }
  auto r = PlacedRegion::allocate(machine(), 64 * kMiB,
                                  {.largest_pages = PageSize::transparent, .populate = true});
  EXPECT_EQ(r.page_size(), PageSize::transparent);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(r.data()) % (2 * kMiB), 0u);
  auto report = r.page_report();
  EXPECT_TRUE(report.transparent_advised);
  EXPECT_GT(report.transparent_huge_bytes, 0u);
}

// Proves a request larger than the memory available is refused up front with a resource error,
// instead of being mapped (MAP_NORESERVE would allow it) and ending in the OOM killer.
TEST(PlacedRegion, RefusesMoreThanAvailableMemory) {
  auto avail = strata::read_memory_availability();
  ASSERT_GT(avail.available_bytes(), 0u);
  try {
    PlacedRegion::allocate(machine(), avail.available_bytes() * 2,
                           {.largest_pages = PageSize::transparent});
    FAIL() << "allocated more than available";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::resource);
    EXPECT_FALSE(e.context_value("available_bytes").empty());
  }
}

// Proves mlock beyond RLIMIT_MEMLOCK is a resource error naming the limit. Runs in a child that
// drops root (root's CAP_IPC_LOCK ignores the limit).
TEST(PlacedRegion, MlockOverLimitNamesRlimit) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rlimit small{64 * 1024, 64 * 1024};
    if (setrlimit(RLIMIT_MEMLOCK, &small) != 0) _exit(10);
    if (getuid() == 0 && setuid(65534) != 0) _exit(11);
    try {
      PlacedRegion::allocate(machine(), 8 * kMiB, {.largest_pages = PageSize::base, .lock = true});
      _exit(12);
    } catch (const strata::Error& e) {
      bool ok = e.category() == strata::ErrorCategory::resource &&
                std::string(e.what()).find("RLIMIT_MEMLOCK") != std::string::npos;
      _exit(ok ? 0 : 13);
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setrlimit, 11: setuid, 12: mlock allowed, 13: wrong error";
}

// Proves a locked region within the limit is really locked in the kernel's accounting.
TEST(PlacedRegion, LockedRegionIsLocked) {
  auto r = PlacedRegion::allocate(machine(), 4 * kMiB, {.largest_pages = PageSize::base, .lock = true});
  EXPECT_TRUE(r.locked());
  EXPECT_EQ(r.page_report().locked_bytes, 4 * kMiB);
}

// Proves a file-backed region writes through to its file.
TEST(PlacedRegion, FileBackedRegionWritesTheFile) {
  auto path = std::filesystem::temp_directory_path() / ("strata-region-" + std::to_string(getpid()));
  {
    auto r = PlacedRegion::allocate(machine(), 1 * kMiB + 5, {.file = path.string()});
    EXPECT_EQ(r.file(), path.string());
    std::memset(r.data(), 'x', r.size());
  }
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  std::filesystem::remove(path);
  ASSERT_GE(content.size(), 1 * kMiB + 5);
  EXPECT_EQ(content.find_first_not_of('x'), 1 * kMiB + 5);
}

// Proves a file-backed region on a full disk fails with a clear resource error up front (not a
// SIGBUS on first write). Uses a 1 MiB tmpfs mounted by the test.
TEST(PlacedRegion, FullDiskIsAnErrorNotASigbus) {
  auto dir = std::filesystem::temp_directory_path() / ("strata-tmpfs-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  if (mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0) {
    std::filesystem::remove(dir);
    GTEST_SKIP() << "cannot mount tmpfs: " << std::strerror(errno);
  }
  try {
    PlacedRegion::allocate(machine(), 8 * kMiB, {.file = (dir / "big").string()});
    ADD_FAILURE() << "allocated 8 MiB on a 1 MiB file system";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::resource);
    EXPECT_EQ(e.context_value("file"), (dir / "big").string());
  }
  umount(dir.c_str());
  std::filesystem::remove_all(dir);
}

// Proves migrate binds the region to the node and its pages stay resident there.
TEST(PlacedRegion, MigrateMovesToNode) {
  auto r = PlacedRegion::allocate(machine(), 8 * kMiB, {.largest_pages = PageSize::base, .populate = true});
  r.migrate(0);
  EXPECT_EQ(r.placement(), Placement::bind(0));
  auto where = r.residency(8);
  EXPECT_EQ(where.pages_per_node[0], where.sampled);
}

// Proves bad requests are invalid_argument errors: zero bytes, overflowing sizes, unknown nodes.
TEST(PlacedRegion, RejectsBadRequests) {
  auto expect_invalid = [](auto&& f) {
    try {
      f();
      ADD_FAILURE() << "accepted";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument) << e.what();
    }
  };
  expect_invalid([] { PlacedRegion::allocate(machine(), 0); });
  expect_invalid([] { PlacedRegion::allocate(machine(), SIZE_MAX - 10, {.largest_pages = PageSize::base}); });
  expect_invalid([] { PlacedRegion::allocate(machine(), kMiB, {.placement = Placement::bind(99)}); });
}

// Proves on a synthetic 2-node topology placement falls back to plain memory that works, says it
// was not applied, and reports residency as unknown rather than inventing it.
TEST(PlacedRegion, SyntheticTopologyFallsBack) {
  auto topo = strata::Topology::synthetic("pack:2 numa:1 core:1 pu:1");
  auto r = PlacedRegion::allocate(topo, 4 * kMiB, {.placement = Placement::bind(1), .populate = true});
  EXPECT_FALSE(r.placement_applied());
  EXPECT_EQ(r.placement(), Placement::bind(1));
  EXPECT_FALSE(r.residency().known);
  std::memset(r.data(), 3, r.size());
  EXPECT_THROW(r.migrate(2), strata::Error);
}

}  // namespace
