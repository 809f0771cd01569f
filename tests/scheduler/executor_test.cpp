// SPDX-License-Identifier: Apache-2.0
// Tests of Executor: one arena per NUMA node on 1, 2 and 4 synthetic nodes, the thread count from
// the API and STRATA_THREADS (malformed values rejected), the split over nodes, the chunk-size
// rule, oneTBB's NUMA ids under HWLOC_SYNTHETIC, and run_on_nodes' error handling.
#include "strata/scheduler/executor.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "strata/runtime/base/error.hpp"
#include "strata/scheduler/parallel.hpp"

namespace {

using strata::ErrorCategory;
using strata::Executor;
using strata::ExecutorOptions;
using strata::Topology;

// oneTBB cannot load its NUMA support (tbbbind, dlopen'ed with RTLD_DEEPBIND) under
// AddressSanitizer, and the executor does not ask it there; tests of that support skip.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

Topology nodes(unsigned n, unsigned cores = 1) {
  return Topology::synthetic("pack:" + std::to_string(n) + " numa:1 core:" + std::to_string(cores) +
                             " pu:1");
}

// Sets an environment variable for the scope of a test and restores what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Proves an executor on 1, 2 and 4 synthetic nodes has one distinct arena per node, each as wide
// as that node's share of the threads, and that work handed to a node runs in that node's arena.
TEST(Executor, CreatesOneArenaPerSyntheticNode) {
  ScopedEnv no_env("STRATA_THREADS", nullptr);
  for (unsigned n : {1u, 2u, 4u}) {
    SCOPED_TRACE(n);
    Topology topo = nodes(n, 2);
    Executor ex(topo);
    ASSERT_EQ(ex.node_count(), n);
    EXPECT_EQ(ex.threads(), 2 * n);  // one per allowed CPU by default
    for (unsigned a = 0; a < n; ++a) {
      EXPECT_EQ(ex.threads_on(a), 2u);
      EXPECT_EQ(ex.execution_node(a), a);
      EXPECT_EQ(ex.arena(a).max_concurrency(), 3);  // two workers and the caller's slot
      for (unsigned b = 0; b < a; ++b) EXPECT_NE(&ex.arena(a), &ex.arena(b));
    }
    std::vector<unsigned> order;
    for (unsigned a = n; a-- > 0;) order.push_back(a);  // reversed: index k is not node k
    std::vector<std::atomic<int>> ran(n);
    ex.run_on_nodes(order, [&](std::size_t k) {
      ran[k].fetch_add(1);
      ex.count_chunk(order[k], 100 * (order[k] + 1));
    });
    auto stats = ex.stats();
    EXPECT_EQ(stats.foreign_chunks, 0u);
    for (unsigned a = 0; a < n; ++a) {
      EXPECT_EQ(ran[a].load(), 1);
      EXPECT_EQ(stats.chunks_per_node[a], 1u);
      EXPECT_EQ(stats.bytes_per_node[a], 100u * (a + 1));
    }
    ex.reset_stats();
    EXPECT_EQ(ex.stats().chunks_per_node, std::vector<std::uint64_t>(n, 0));
  }
}

// Proves a chunk counted outside the arena of its node is reported as foreign, so the statistics
// can catch work sent to the wrong node.
TEST(Executor, CountsChunksOutsideTheirArenaAsForeign) {
  Topology topo = nodes(2);
  Executor ex(topo, {.threads = 2});
  ex.run_on_nodes(std::vector<unsigned>{0}, [&](std::size_t) { ex.count_chunk(1, 8); });
  ex.count_chunk(0, 8);  // the test's own thread is in no arena
  auto stats = ex.stats();
  EXPECT_EQ(stats.foreign_chunks, 2u);
  EXPECT_EQ(stats.chunks_per_node[0], 1u);  // counted where it really ran
  EXPECT_EQ(stats.chunks_per_node[1], 0u);
}

// Proves the thread count is split over nodes in proportion to their CPUs, with at least one
// thread on every node.
TEST(Executor, SplitsThreadsOverNodes) {
  ScopedEnv no_env("STRATA_THREADS", nullptr);
  Topology two = nodes(2, 2);
  Executor three(two, {.threads = 3});
  EXPECT_EQ(three.threads(), 3u);
  EXPECT_EQ(three.threads_on(0), 2u);
  EXPECT_EQ(three.threads_on(1), 1u);
  EXPECT_EQ(three.arena(1).max_concurrency(), 2);  // one worker and the caller's slot

  Topology four = nodes(4);
  Executor one(four, {.threads = 1});
  EXPECT_EQ(one.threads(), 4u);  // a node with CPUs never goes without a thread
  for (unsigned n = 0; n < 4; ++n) EXPECT_EQ(one.threads_on(n), 1u);
}

// Proves STRATA_THREADS sets the thread count when the API leaves it at 0, that an explicit count
// wins over it, and that an empty value means unset.
TEST(Executor, HonoursStrataThreads) {
  Topology topo = nodes(2, 2);
  {
    ScopedEnv env("STRATA_THREADS", "6");
    Executor ex(topo);
    EXPECT_EQ(ex.threads(), 6u);
    EXPECT_EQ(ex.threads_on(0), 3u);
    EXPECT_EQ(ex.threads_on(1), 3u);
    Executor api(topo, {.threads = 2});
    EXPECT_EQ(api.threads(), 2u);
  }
  {
    ScopedEnv env("STRATA_THREADS", "");
    EXPECT_EQ(Executor(topo).threads(), 4u);
  }
}

// Proves malformed or absurd STRATA_THREADS values are refused with Error(config) naming the
// variable and the value, rather than silently running with some other count.
TEST(Executor, RejectsMalformedStrataThreads) {
  Topology topo = nodes(2, 2);
  for (const char* bad : {"abc", "0", "-2", "3x", " 4", "+4", "0x4", "4.0", "99999999999999999999",
                          "2147483648", "65"}) {
    SCOPED_TRACE(bad);
    ScopedEnv env("STRATA_THREADS", bad);
    try {
      Executor ex(topo);
      ADD_FAILURE() << "accepted STRATA_THREADS=" << bad;
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::config);
      EXPECT_EQ(e.context_value("variable"), "STRATA_THREADS");
    }
  }
  ScopedEnv limit("STRATA_THREADS", "64");  // 16 per allowed CPU is still accepted
  EXPECT_EQ(Executor(topo).threads(), 64u);
}

// Proves API arguments out of range are Error(invalid_argument): an absurd thread count and a
// chunk size that is not a page multiple.
TEST(Executor, RejectsBadOptions) {
  ScopedEnv no_env("STRATA_THREADS", nullptr);
  Topology topo = nodes(1);
  try {
    Executor ex(topo, {.threads = 17});
    ADD_FAILURE() << "accepted 17 threads on one CPU";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::invalid_argument);
  }
  EXPECT_THROW(Executor(topo, {.chunk_bytes = 1000}), strata::Error);
  EXPECT_EQ(Executor(topo, {.chunk_bytes = 8192}).chunk_bytes(), 8192u);
}

// Proves the documented chunk rule: a quarter of the L2 share of one hardware thread, a page
// multiple, 256 KiB without an L2, and clamped to [64 KiB, 4 MiB].
TEST(Executor, ChunkSizeFollowsL2Rule) {
  // 4 L2s of 1 MiB for 8 PUs: 512 KiB per thread, a quarter is 128 KiB.
  Topology with_l2 = Topology::synthetic("pack:2 numa:1 l2:2(size=1048576) core:1 pu:2");
  EXPECT_EQ(Executor::default_chunk_bytes(with_l2), 128u << 10);
  EXPECT_EQ(Executor::default_chunk_bytes(nodes(2)), 256u << 10);
  Topology small_l2 = Topology::synthetic("pack:1 numa:1 l2:1(size=65536) core:1 pu:4");
  EXPECT_EQ(Executor::default_chunk_bytes(small_l2), 64u << 10);
  Topology huge_l2 = Topology::synthetic("pack:1 numa:1 l2:1(size=1073741824) core:1 pu:1");
  EXPECT_EQ(Executor::default_chunk_bytes(huge_l2), 4u << 20);

  Executor ex(with_l2, {.threads = 1});
  EXPECT_EQ(ex.chunk_bytes(), 128u << 10);
  EXPECT_EQ(ex.chunk_elements(8), (128u << 10) / 8);
  EXPECT_EQ(ex.chunk_elements(3), (128u << 10) / 3);

  Topology machine = Topology::load();
  const std::size_t chunk = Executor::default_chunk_bytes(machine);
  EXPECT_EQ(chunk % 4096, 0u);
  if (machine.cache_bytes(2) > 0) {
    EXPECT_LE(2 * chunk, machine.cache_bytes(2));
  }
}

// Proves that when oneTBB starts under HWLOC_SYNTHETIC it sees the synthetic nodes, numbered by
// hwloc logical index, and each arena is constrained to its node's oneTBB NUMA id.
TEST(Executor, ConstrainsArenasToOneTbbNumaNodesUnderHwlocSynthetic) {
  if (kAddressSanitizer) GTEST_SKIP() << "oneTBB's NUMA support cannot load under AddressSanitizer";
  ScopedEnv synthetic("HWLOC_SYNTHETIC", "pack:4 numa:1 core:1 pu:1");
  std::vector<int> ids = oneapi::tbb::info::numa_nodes();
  if (ids.size() != 4) {
    GTEST_SKIP() << "oneTBB was initialised before this test set HWLOC_SYNTHETIC (ctest runs each "
                    "test in its own process)";
  }
  EXPECT_EQ(ids, (std::vector<int>{0, 1, 2, 3}));
  Topology topo = Topology::load();
  ASSERT_EQ(topo.source(), strata::TopologySource::synthetic);
  Executor ex(topo);
  for (unsigned n = 0; n < 4; ++n) {
    EXPECT_EQ(ex.tbb_numa_id(n), static_cast<int>(n));
    EXPECT_EQ(oneapi::tbb::info::default_concurrency(ex.tbb_numa_id(n)), 1);
  }
  EXPECT_FALSE(ex.pinning());
  std::vector<unsigned> all{0, 1, 2, 3};
  ex.run_on_nodes(all, [&](std::size_t k) { ex.count_chunk(all[k], 1); });
  EXPECT_EQ(ex.stats().foreign_chunks, 0u);
  EXPECT_EQ(ex.stats().chunks_per_node, (std::vector<std::uint64_t>{1, 1, 1, 1}));
}

// Proves a synthetic topology that oneTBB does not see (it loaded the real machine) still gets its
// arenas, unconstrained, instead of NUMA ids oneTBB would reject.
TEST(Executor, RunsUnconstrainedWhenOneTbbSeesAnotherMachine) {
  ScopedEnv no_env("HWLOC_SYNTHETIC", nullptr);
  Topology topo = Topology::synthetic("pack:3 numa:1 core:1 pu:1");
  if (!kAddressSanitizer && oneapi::tbb::info::numa_nodes().size() == 3) {
    GTEST_SKIP() << "oneTBB sees 3 nodes here";
  }
  Executor ex(topo);
  ASSERT_EQ(ex.node_count(), 3u);
  for (unsigned n = 0; n < 3; ++n) EXPECT_EQ(ex.tbb_numa_id(n), -1);
  std::atomic<int> ran{0};
  std::vector<unsigned> all{0, 1, 2};
  ex.run_on_nodes(all, [&](std::size_t) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 3);
}

// Proves run_on_nodes rethrows the first exception only after work already running on the other
// nodes has finished (it references the caller's frame), and that the executor works afterwards.
TEST(Executor, RunOnNodesRethrowsAfterOthersFinish) {
  Topology topo = nodes(2);
  Executor ex(topo, {.threads = 2});
  std::atomic<bool> other_started{false}, other_finished{false};
  std::vector<unsigned> both{0, 1};
  EXPECT_THROW(ex.run_on_nodes(both,
                               [&](std::size_t k) {
                                 if (k == 0) {
                                   while (!other_started.load()) std::this_thread::yield();
                                   throw std::runtime_error("node 0 failed");
                                 }
                                 other_started.store(true);
                                 std::this_thread::sleep_for(std::chrono::milliseconds(50));
                                 other_finished.store(true);
                               }),
               std::runtime_error);
  EXPECT_TRUE(other_finished.load());
  std::atomic<int> ran{0};
  ex.run_on_nodes(both, [&](std::size_t) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 2);
}

// Proves oneTBB's worker cap covers the largest of several live executors, whatever the order
// they were made in (oneTBB keeps the smallest of several caps, so executors must share one), and
// falls back to oneTBB's default when they are gone.
TEST(Executor, WorkerCapCoversTheLargestLiveExecutor) {
  using oneapi::tbb::global_control;
  const std::size_t before = global_control::active_value(global_control::max_allowed_parallelism);
  const std::size_t machine = static_cast<std::size_t>(oneapi::tbb::info::default_concurrency());
  {
    Topology small_topo = nodes(1, 3);
    Executor small(small_topo);
    EXPECT_GE(global_control::active_value(global_control::max_allowed_parallelism), 4u);
    Topology topo = nodes(4, 4);
    Executor large(topo);
    ASSERT_EQ(large.threads(), 16u);
    EXPECT_EQ(global_control::active_value(global_control::max_allowed_parallelism),
              std::max<std::size_t>(17, machine));
  }
  EXPECT_EQ(global_control::active_value(global_control::max_allowed_parallelism), before);
}

// Proves an executor on this machine runs one thread per allowed CPU by default, at least one on
// every node with allowed CPUs, and pins exactly when the topology is this machine.
TEST(Executor, MachineExecutorCoversEveryAllowedNode) {
  ScopedEnv no_env("STRATA_THREADS", nullptr);
  Topology machine = Topology::load();
  Executor ex(machine);
  EXPECT_EQ(ex.threads(), machine.allowed_cpus().size());
  for (const auto& node : machine.numa_nodes()) {
    if (node.cpus.intersects(machine.allowed_cpus())) {
      EXPECT_GE(ex.threads_on(node.index), 1u);
    }
  }
  EXPECT_EQ(ex.pinning(), machine.is_this_system());
}

}  // namespace

namespace {

// An accumulator that records which thread added each chunk, and holds every chunk until a
// second thread has taken one (or 20 s pass), so a run in which only one thread ever works fails
// instead of racing to finish before the second wakes.
struct ThreadRecorder {
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
  std::shared_ptr<std::set<std::thread::id>> threads = std::make_shared<std::set<std::thread::id>>();
  std::size_t values = 0;

  void add(std::span<const float> chunk) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    {
      std::lock_guard lock(*mutex);
      threads->insert(std::this_thread::get_id());
    }
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(*mutex);
        if (threads->size() >= 2) break;
      }
      std::this_thread::yield();
    }
    values += chunk.size();
  }
  void merge(const ThreadRecorder& other) { values += other.values; }
};

}  // namespace

// Proves both workers of a 2-thread executor execute chunks of one reduction and the calling
// thread executes none (it waits outside the arena): "threads" counts the threads that compute.
TEST(Executor, EveryWorkerAndNotTheCallerExecutesChunks) {
  const Topology topo = nodes(1, 2);
  Executor ex(topo, {.threads = 2, .chunk_bytes = 4096});
  std::vector<float> data(64 * 1024, 1.0f);  // 64 chunks of 1024 floats
  ThreadRecorder result = strata::reduce(ex, data, ThreadRecorder{});
  EXPECT_EQ(result.values, data.size());
  EXPECT_EQ(result.threads->size(), 2u);
  EXPECT_EQ(result.threads->count(std::this_thread::get_id()), 0u);
}
