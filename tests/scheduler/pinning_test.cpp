// SPDX-License-Identifier: Apache-2.0
// Tests of thread pinning on the real machine: the kernel's affinity of every thread running a
// chunk is its node's allowed CPUs, the caller's own binding comes back after it helped, and
// without pinning threads keep what they inherited. Skipped where fewer than two CPUs are allowed
// (nothing to tell apart).
#include <gtest/gtest.h>
#include <sched.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <vector>

#include "strata/scheduler/parallel.hpp"

namespace {

using strata::CpuSet;
using strata::Executor;
using strata::Topology;

// The calling thread's affinity as the kernel reports it.
CpuSet kernel_affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(::sched_getaffinity(0, sizeof(set), &set), 0);
  std::vector<unsigned> cpus;
  for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return CpuSet(std::move(cpus));
}

// Threads of this process (entries of /proc/self/task).
std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task"))
    ++n;
  return n;
}

void set_kernel_affinity(const CpuSet& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (unsigned c : cpus.cpus()) CPU_SET(c, &set);
  ASSERT_EQ(::sched_setaffinity(0, sizeof(set), &set), 0);
}

// The test narrows the caller to its last allowed CPU before oneTBB creates any worker, so workers
// are born with that one CPU: only pinning can widen them to their node's CPUs.
class SchedulerPinning : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!topo_.is_this_system()) GTEST_SKIP() << "not this machine's topology";
    if (topo_.allowed_cpus().size() < 2) GTEST_SKIP() << "fewer than two CPUs allowed";
    if (thread_count() > 1) {
      GTEST_SKIP() << "oneTBB's workers already exist, born with another binding (ctest runs each "
                      "test in its own process)";
    }
    original_ = kernel_affinity();
    narrow_ = CpuSet({topo_.allowed_cpus().cpus().back()});
    set_kernel_affinity(narrow_);
  }
  void TearDown() override {
    if (!original_.empty()) set_kernel_affinity(original_);
  }

  // The affinity of every thread that ran a chunk, and the node the chunk was planned on.
  std::set<std::pair<unsigned, std::string>> affinities_seen(Executor& ex) {
    std::vector<double> data(ex.chunk_elements(sizeof(double)) * 64 * ex.threads());
    const strata::ChunkPlan plan =
        strata::ChunkPlan::even(topo_, data.size(), ex.chunk_elements(sizeof(double)));
    std::mutex m;
    std::set<std::pair<unsigned, std::string>> seen;
    strata::for_each_chunk(ex, data, [&](std::span<double> chunk, std::size_t first) {
      for (auto& x : chunk) x = 1.0;  // some work, so several threads take part
      unsigned node = 0;
      for (const auto& part : plan.parts()) {
        if (first >= part.first && first < part.first + part.count) node = part.node;
      }
      std::lock_guard lock(m);
      seen.insert({node, kernel_affinity().to_string()});
    });
    return seen;
  }

  Topology topo_ = Topology::load();
  CpuSet original_;
  CpuSet narrow_;
};

// Proves every thread that runs a chunk is bound by the kernel to exactly its node's allowed
// CPUs (not the one CPU it inherited), and that the caller's own binding is restored afterwards.
TEST_F(SchedulerPinning, ThreadsRunBoundToTheirNodeCpus) {
  Executor ex(topo_, {.threads = static_cast<unsigned>(topo_.allowed_cpus().size())});
  ASSERT_TRUE(ex.pinning());
  auto seen = affinities_seen(ex);
  ASSERT_FALSE(seen.empty());
  for (const auto& [node, affinity] : seen) {
    EXPECT_EQ(affinity, topo_.numa_nodes()[node].cpus.intersect(topo_.allowed_cpus()).to_string())
        << "a thread ran a chunk of node " << node << " bound to " << affinity;
  }
  EXPECT_EQ(kernel_affinity(), narrow_) << "the caller's binding was not restored";
}

// Proves the control: without pinning, threads keep the one CPU they inherited — so the test
// above sees the executor's pinning, not some other binding.
TEST_F(SchedulerPinning, WithoutPinningThreadsKeepTheirInheritedBinding) {
  Executor ex(topo_, {.threads = static_cast<unsigned>(topo_.allowed_cpus().size()), .pin = false});
  ASSERT_FALSE(ex.pinning());
  for (const auto& [node, affinity] : affinities_seen(ex)) EXPECT_EQ(affinity, narrow_.to_string());
}

}  // namespace
