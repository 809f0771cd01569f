// SPDX-License-Identifier: Apache-2.0
// Tests of the memory readings and the pressure monitor: PSI, cgroup v2 and v1 (hybrid) parsing
// on fixture trees and on this machine, levels from readings, responders that trim a pool and
// shrink a view cache once per rise, refused regions while critical, the watcher thread, and a
// real child cgroup with a memory limit (v2 memory.max, or v1 memory.limit_in_bytes where the
// memory controller is still on v1) entered by a forked process.
#include "strata/runtime/memory/memory_pressure.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/files/mapped_view_cache.hpp"
#include "strata/runtime/machine/memory_availability.hpp"
#include "strata/runtime/machine/topology.hpp"
#include "strata/runtime/memory/numa_pool.hpp"

namespace {

namespace fs = std::filesystem;
using strata::MemoryAvailability;
using strata::MemoryInfoPaths;
using strata::MemoryPressureLevel;
using strata::MemoryPressureMonitor;

const fs::path kFixtures = fs::path(STRATA_TEST_FIXTURES) / "memory";

MemoryInfoPaths fixture_paths(const std::string& host) {
  const fs::path dir = kFixtures / host;
  return {.meminfo = (dir / "meminfo").string(),
          .cgroup_root = (dir / "cgroup").string(),
          .self_cgroup = (dir / "self_cgroup").string(),
          .system_pressure = (dir / "pressure_memory").string()};
}

void write_file(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

// Proves the PSI parser reads both lines of a pressure file, and refuses text without a "some"
// line (a kernel booted with psi=0).
TEST(MemoryReadings, ParsesPressureStallText) {
  auto psi = strata::parse_pressure_stall(
      "some avg10=1.50 avg60=0.25 avg300=0.00 total=4242\n"
      "full avg10=0.75 avg60=0.00 avg300=0.00 total=17\n");
  ASSERT_TRUE(psi);
  EXPECT_DOUBLE_EQ(psi->some.avg10, 1.5);
  EXPECT_DOUBLE_EQ(psi->some.avg60, 0.25);
  EXPECT_EQ(psi->some.total_us, 4242u);
  EXPECT_DOUBLE_EQ(psi->full.avg10, 0.75);
  EXPECT_EQ(psi->full.total_us, 17u);
  EXPECT_FALSE(strata::parse_pressure_stall(""));
  EXPECT_FALSE(strata::parse_pressure_stall("garbage\n"));
  auto events = strata::parse_memory_events("low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\nextra 9\n");
  EXPECT_EQ(events.low, 1u);
  EXPECT_EQ(events.high, 2u);
  EXPECT_EQ(events.max, 3u);
  EXPECT_EQ(events.oom, 4u);
  EXPECT_EQ(events.oom_kill, 5u);
}

// Proves a pure cgroup v2 host is read whole: the ancestor with the least room (the job, not
// its step) sets the limit, and the step's memory.high, PSI and events are reported.
TEST(MemoryReadings, CgroupV2FixtureTree) {
  MemoryAvailability a = strata::read_memory_availability(fixture_paths("v2"));
  EXPECT_EQ(a.mem_total_bytes, 65536000ull * 1024);
  EXPECT_EQ(a.mem_available_bytes, 32768000ull * 1024);
  ASSERT_TRUE(a.cgroup_limit_bytes);
  EXPECT_EQ(*a.cgroup_limit_bytes, 4294967296u);
  EXPECT_EQ(a.cgroup_usage_bytes.value_or(0), 3221225472u);
  EXPECT_EQ(a.cgroup_path, "/slurm/job42");
  EXPECT_EQ(a.cgroup_version, 2);
  EXPECT_EQ(a.available_bytes(), 1073741824u);
  EXPECT_EQ(a.limit_bytes(), 4294967296u);
  EXPECT_EQ(a.cgroup_high_bytes.value_or(0), 3758096384u);
  ASSERT_TRUE(a.system_pressure);
  EXPECT_DOUBLE_EQ(a.system_pressure->some.avg10, 12.5);
  EXPECT_EQ(a.system_pressure->some.total_us, 123456789u);
  ASSERT_TRUE(a.cgroup_pressure);
  EXPECT_DOUBLE_EQ(a.cgroup_pressure->full.avg10, 11.0);
  ASSERT_TRUE(a.cgroup_events);
  EXPECT_EQ(a.cgroup_events->high, 17u);
  EXPECT_EQ(a.cgroup_events->max, 3u);
  EXPECT_EQ(a.cgroup_events->oom_kill, 1u);
}

// Proves a hybrid host (memory controller on v1, PSI on the v2 "unified" tree) is read: the v1
// limit of the job (its parent's "no limit" number ignored), v1 events from memory.failcnt and
// memory.oom_control, and the v2 cgroup's PSI.
TEST(MemoryReadings, CgroupV1HybridFixtureTree) {
  MemoryAvailability a = strata::read_memory_availability(fixture_paths("hybrid"));
  ASSERT_TRUE(a.cgroup_limit_bytes);
  EXPECT_EQ(*a.cgroup_limit_bytes, 1073741824u);
  EXPECT_EQ(a.cgroup_usage_bytes.value_or(0), 268435456u);
  EXPECT_EQ(a.cgroup_path, "/slurm/job7");
  EXPECT_EQ(a.cgroup_version, 1);
  EXPECT_EQ(a.available_bytes(), 1073741824u - 268435456u);
  EXPECT_FALSE(a.cgroup_high_bytes);
  ASSERT_TRUE(a.cgroup_pressure);
  EXPECT_DOUBLE_EQ(a.cgroup_pressure->some.avg10, 4.0);
  ASSERT_TRUE(a.cgroup_events);
  EXPECT_EQ(a.cgroup_events->max, 5u);
  EXPECT_EQ(a.cgroup_events->oom_kill, 2u);
}

// Proves missing files leave the reading empty rather than failing.
TEST(MemoryReadings, MissingFilesGiveAnEmptyReading) {
  MemoryAvailability a =
      strata::read_memory_availability(MemoryInfoPaths{.meminfo = "/nonexistent/meminfo",
                                                       .cgroup_root = "/nonexistent",
                                                       .self_cgroup = "/nonexistent/cgroup",
                                                       .system_pressure = "/nonexistent/psi"});
  EXPECT_EQ(a.mem_total_bytes, 0u);
  EXPECT_FALSE(a.cgroup_limit_bytes);
  EXPECT_FALSE(a.system_pressure);
  EXPECT_FALSE(a.cgroup_events);
}

// Proves the reading of this machine is consistent: MemAvailable within MemTotal, PSI present
// when the kernel offers /proc/pressure/memory, and a cgroup limit, where one is found, is the
// number its own file holds.
TEST(MemoryReadings, RealMachine) {
  MemoryAvailability a = strata::read_memory_availability();
  ASSERT_GT(a.mem_total_bytes, 0u);
  EXPECT_LE(a.mem_available_bytes, a.mem_total_bytes);
  EXPECT_LE(a.available_bytes(), a.mem_available_bytes);
  std::string psi_text;
  std::getline(std::ifstream("/proc/pressure/memory"), psi_text);
  EXPECT_EQ(a.system_pressure.has_value(), psi_text.rfind("some ", 0) == 0) << psi_text;
  if (a.cgroup_limit_bytes) {
    const fs::path base = a.cgroup_version == 2 ? (fs::exists("/sys/fs/cgroup/cgroup.controllers")
                                                       ? fs::path("/sys/fs/cgroup")
                                                       : fs::path("/sys/fs/cgroup/unified"))
                                                : fs::path("/sys/fs/cgroup/memory");
    const fs::path file = base / fs::path(a.cgroup_path).relative_path() /
                          (a.cgroup_version == 2 ? "memory.max" : "memory.limit_in_bytes");
    std::uint64_t want = 0;
    std::ifstream(file) >> want;
    EXPECT_EQ(*a.cgroup_limit_bytes, want) << file;
  }
}

// Proves the levels: each threshold (room left, PSI some/full, new cgroup events) raises the
// level it is documented to, and the highest wins.
TEST(MemoryPressure, LevelsFromReadings) {
  const strata::MemoryPressureThresholds t;
  MemoryAvailability a;
  a.mem_total_bytes = 1000 << 20;
  a.mem_available_bytes = 500 << 20;
  EXPECT_EQ(strata::assess_memory_pressure(a, t, {}).level, MemoryPressureLevel::none);
  a.mem_available_bytes = 50 << 20;  // 5 %
  EXPECT_EQ(strata::assess_memory_pressure(a, t, {}).level, MemoryPressureLevel::moderate);
  a.mem_available_bytes = 20 << 20;  // 2 %
  auto r = strata::assess_memory_pressure(a, t, {});
  EXPECT_EQ(r.level, MemoryPressureLevel::critical);
  EXPECT_NE(r.reason.find("20 MiB of 1000 MiB left"), std::string::npos) << r.reason;
  a.mem_available_bytes = 500 << 20;
  a.system_pressure = strata::MemoryPressureStall{.some = {.avg10 = 15}, .full = {}};
  EXPECT_EQ(strata::assess_memory_pressure(a, t, {}).level, MemoryPressureLevel::moderate);
  a.cgroup_pressure = strata::MemoryPressureStall{.some = {.avg10 = 30}, .full = {.avg10 = 12}};
  EXPECT_EQ(strata::assess_memory_pressure(a, t, {}).level, MemoryPressureLevel::critical);
  a.system_pressure.reset();
  a.cgroup_pressure.reset();
  a.cgroup_events = strata::MemoryEvents{.high = 3};
  EXPECT_EQ(strata::assess_memory_pressure(a, t, std::nullopt).level, MemoryPressureLevel::none);
  EXPECT_EQ(strata::assess_memory_pressure(a, t, strata::MemoryEvents{.high = 3}).level,
            MemoryPressureLevel::none);
  EXPECT_EQ(strata::assess_memory_pressure(a, t, strata::MemoryEvents{.high = 2}).level,
            MemoryPressureLevel::moderate);
  a.cgroup_events->max = 1;
  EXPECT_EQ(strata::assess_memory_pressure(a, t, strata::MemoryEvents{.high = 3}).level,
            MemoryPressureLevel::critical);
}

// A temporary tree with a meminfo whose MemAvailable the test sets.
struct FakeMachine {
  fs::path dir = fs::temp_directory_path() / ("strata-pressure-" + std::to_string(::getpid()));
  FakeMachine() {
    fs::create_directories(dir);
    set_available_mib(8000);
  }
  ~FakeMachine() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void set_available_mib(std::uint64_t mib) {
    write_file(dir / "meminfo",
               "MemTotal: 8192000 kB\nMemAvailable: " + std::to_string(mib * 1024) + " kB\n");
  }
  strata::MemoryPressureOptions options() const {
    strata::MemoryPressureOptions o;
    o.paths = {.meminfo = (dir / "meminfo").string(),
               .cgroup_root = (dir / "none").string(),
               .self_cgroup = (dir / "none").string(),
               .system_pressure = (dir / "none").string()};
    o.period = std::chrono::milliseconds(20);
    return o;
  }
};

// Proves the monitor acts once per rise: the responders run when the level rises (a pool's free
// spans trimmed, a view cache's unheld windows unmapped), not again on the next reading, again
// on a further rise, and the last action names what each did.
TEST(MemoryPressure, RespondersRunOncePerRise) {
  FakeMachine machine;
  MemoryPressureMonitor monitor(machine.options());
  strata::Topology topo = strata::Topology::load();
  strata::NumaPool pool(topo);
  std::vector<void*> blocks;
  std::thread([&] {
    for (int i = 0; i < 64; ++i) blocks.push_back(pool.allocate(256 * 1024));
  }).join();
  for (void* p : blocks) pool.deallocate(p);
  const fs::path file = machine.dir / "data";
  write_file(file, std::string(4 << 20, 'x'));
  strata::MappedViewCache cache(64 << 20, 4);
  { auto v = cache.acquire(file.string(), 0, 4 << 20); }
  ASSERT_EQ(cache.statistics().mapped_bytes, 4u << 20);
  int calls = 0;
  std::vector<MemoryPressureLevel> seen;
  auto counted = monitor.on_pressure("counter", [&](MemoryPressureLevel level) {
    ++calls;
    seen.push_back(level);
    return std::string();
  });
  auto pool_watch = monitor.watch(pool);
  auto cache_watch = monitor.watch(cache);

  EXPECT_EQ(monitor.check().level, MemoryPressureLevel::none);
  EXPECT_EQ(calls, 0);
  machine.set_available_mib(500);  // 6 %: moderate
  EXPECT_EQ(monitor.check().level, MemoryPressureLevel::moderate);
  EXPECT_EQ(calls, 1);
  EXPECT_NE(monitor.last_action().find("pools: trimmed"), std::string::npos)
      << monitor.last_action();
  EXPECT_EQ(cache.statistics().mapped_bytes, 4u << 20);  // under half the budget already
  monitor.check();
  EXPECT_EQ(calls, 1);             // still moderate: nothing more until repeat_after
  machine.set_available_mib(100);  // 1 %: critical
  EXPECT_EQ(monitor.check().level, MemoryPressureLevel::critical);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(cache.statistics().mapped_bytes, 0u);
  EXPECT_NE(monitor.last_action().find("view cache: unmapped 4 MiB"), std::string::npos)
      << monitor.last_action();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], MemoryPressureLevel::moderate);
  EXPECT_EQ(seen[1], MemoryPressureLevel::critical);
  machine.set_available_mib(8000);
  EXPECT_EQ(monitor.check().level, MemoryPressureLevel::none);
  EXPECT_EQ(calls, 2);
}

// Proves a new placed region is refused with Error(resource) naming the reason while the level
// is critical, and admitted again once a reading shows the pressure gone.
TEST(MemoryPressure, RefusesRegionsWhileCritical) {
  FakeMachine machine;
  MemoryPressureMonitor monitor(machine.options());
  EXPECT_NO_THROW(monitor.admit_region(1 << 20));
  machine.set_available_mib(100);
  monitor.check();
  try {
    monitor.admit_region(1 << 20);
    ADD_FAILURE() << "admitted under critical pressure";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::resource);
    EXPECT_NE(std::string(e.what()).find("critical pressure"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("100 MiB of 8000 MiB left"), std::string::npos)
        << e.what();
  }
  machine.set_available_mib(8000);
  monitor.check();
  EXPECT_NO_THROW(monitor.admit_region(1 << 20));
}

// Proves the watcher thread takes readings by itself (a PSI trigger where the kernel accepts
// one, else polling every period) and stops when asked.
TEST(MemoryPressure, WatcherReadsAndStops) {
  strata::MemoryPressureOptions options;
  options.period = std::chrono::milliseconds(10);
  MemoryPressureMonitor monitor(options);
  const std::string how = monitor.start_watching();
  EXPECT_TRUE(how == "psi trigger" || how == "polling") << how;
  EXPECT_TRUE(monitor.watching());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (monitor.readings() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(monitor.readings(), 3u);
  monitor.stop_watching();
  EXPECT_FALSE(monitor.watching());
  const auto after = monitor.readings();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(monitor.readings(), after);
}

// A child cgroup with a memory limit, removed at the end (also when the test fails): v2 where
// the memory controller is on v2, else v1 (hybrid hosts). Empty `dir` when neither can be made.
struct ChildCgroup {
  fs::path dir;
  int version = 0;
  std::string why_not;
  explicit ChildCgroup(std::uint64_t limit_bytes) {
    const std::string name = "strata-test-" + std::to_string(::getpid());
    std::ifstream controllers("/sys/fs/cgroup/cgroup.controllers");
    std::string list((std::istreambuf_iterator<char>(controllers)), {});
    if (list.find("memory") != std::string::npos) {
      make("/sys/fs/cgroup" / fs::path(name), "memory.max", limit_bytes, 2);
    } else if (fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
      make("/sys/fs/cgroup/memory" / fs::path(name), "memory.limit_in_bytes", limit_bytes, 1);
    } else {
      why_not = "no memory controller in /sys/fs/cgroup (v2) or /sys/fs/cgroup/memory (v1)";
    }
  }
  void make(const fs::path& d, const char* limit_file, std::uint64_t limit, int v) {
    if (::mkdir(d.c_str(), 0755) != 0) {
      why_not = "cannot create " + d.string() + ": " + std::strerror(errno);
      return;
    }
    std::ofstream(d / limit_file) << limit;
    std::uint64_t read_back = 0;
    std::ifstream(d / limit_file) >> read_back;
    if (read_back != limit) {  // e.g. v2 without +memory in the parent's subtree_control
      why_not = "cannot set " + (d / limit_file).string();
      ::rmdir(d.c_str());
      return;
    }
    dir = d;
    version = v;
  }
  ~ChildCgroup() {
    if (!dir.empty()) ::rmdir(dir.c_str());
  }
};

std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// The steps run in the child inside the cgroup; returns the first that failed (0: none).
int steps_in_cgroup(const ChildCgroup& cgroup, std::uint64_t limit) {
  MemoryAvailability a = strata::read_memory_availability();
  if (a.cgroup_limit_bytes != limit) return 10;
  if (a.cgroup_path != "/" + cgroup.dir.filename().string()) return 11;
  if (a.cgroup_version != cgroup.version) return 12;
  strata::Topology topo = strata::Topology::load();
  strata::MemoryPressureOptions options;
  options.thresholds.moderate_available_fraction = 0.6;
  options.thresholds.critical_available_fraction = 0.4;
  options.repeat_after = std::chrono::milliseconds(0);  // every raised reading acts
  strata::NumaPool pool(topo);
  MemoryPressureMonitor monitor(options);
  auto watch = monitor.watch(pool);
  constexpr std::size_t kBlock = 256 * 1024;
  std::vector<void*> blocks;
  for (int i = 0; i < 640; ++i) {  // 160 MiB
    blocks.push_back(pool.allocate(kBlock));
    std::memset(blocks.back(), 1, kBlock);
  }
  const std::uint64_t usage_full =
      strata::read_memory_availability().cgroup_usage_bytes.value_or(0);
  const std::uint64_t rss_full = resident_bytes();
  if (usage_full < (160u << 20) || rss_full < (160u << 20)) return 13;
  if (monitor.check().level != MemoryPressureLevel::critical) return 14;
  try {
    monitor.admit_region(8 << 20);
    return 15;
  } catch (const strata::Error&) {
  }
  for (void* p : blocks) pool.deallocate(p);
  monitor.check();  // the freed pages are still charged: raised again, so the pool is trimmed
  const std::uint64_t usage_after =
      strata::read_memory_availability().cgroup_usage_bytes.value_or(0);
  const std::uint64_t rss_after = resident_bytes();
  // The process's resident memory drops at once; the cgroup's charge drops less at first, as
  // huge pages split by the release are freed by the kernel's deferred split (under pressure).
  if (rss_after + (128u << 20) > rss_full) return 16;
  if (usage_after + (64u << 20) > usage_full) return 20;
  if (monitor.last_action().find("pools: trimmed") == std::string::npos) return 17;
  if (monitor.check().level != MemoryPressureLevel::none) return 18;
  return 0;
}

// Proves, in a real child cgroup with a 256 MiB limit entered by a forked process: the reading
// finds that limit (its path and version), 160 MiB of touched pool blocks raise the monitor to
// critical, a placed region is refused meanwhile, the pool is trimmed when they are freed (the
// process's RSS drops by more than 128 MiB, the cgroup's charge by more than 64 MiB) and the
// level falls back to none. Skipped
// (the fixture trees cover the parsing) where no memory cgroup can be made, e.g. without root.
TEST(MemoryPressure, RealChildCgroupWithMemoryLimit) {
  constexpr std::uint64_t kLimit = 256 << 20;
  ChildCgroup cgroup(kLimit);
  if (cgroup.dir.empty()) GTEST_SKIP() << cgroup.why_not;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = 19;
    try {
      std::ofstream(cgroup.dir / "cgroup.procs") << ::getpid();
      code = steps_in_cgroup(cgroup, kLimit);
    } catch (...) {
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "child died by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "first failed step (see steps_in_cgroup) in cgroup v"
                                    << cgroup.version << " " << cgroup.dir;
}

}  // namespace
