// SPDX-License-Identifier: Apache-2.0
// Tests of Topology on this machine and on synthetic hwloc topologies with 1, 2 and 4 NUMA nodes.
#include "strata/runtime/machine/topology.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <cstdlib>
#include <thread>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::CpuSet;
using strata::Topology;

// The calling thread's affinity straight from the kernel, independent of hwloc.
CpuSet kernel_affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  std::vector<unsigned> cpus;
  for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return CpuSet(cpus);
}

// Checks the invariants every topology must satisfy: node CPU sets disjoint and covering the
// machine, PU counts adding up.
void expect_consistent(const Topology& topo) {
  ASSERT_FALSE(topo.numa_nodes().empty());
  std::vector<unsigned> seen;
  unsigned pus = 0;
  for (std::size_t i = 0; i < topo.numa_nodes().size(); ++i) {
    const auto& node = topo.numa_nodes()[i];
    EXPECT_EQ(node.index, i);
    pus += node.pus;
    EXPECT_EQ(node.cpus.size(), node.pus);
    for (std::size_t j = i + 1; j < topo.numa_nodes().size(); ++j) {
      EXPECT_FALSE(node.cpus.intersects(topo.numa_nodes()[j].cpus)) << i << " and " << j;
    }
    seen.insert(seen.end(), node.cpus.cpus().begin(), node.cpus.cpus().end());
    for (unsigned cpu : node.cpus.cpus()) EXPECT_EQ(topo.numa_node_of_cpu(cpu), int(i));
  }
  EXPECT_EQ(pus, topo.pu_count());
  EXPECT_EQ(CpuSet(seen), topo.all_cpus());
  EXPECT_EQ(topo.allowed_cpus().intersect(topo.all_cpus()), topo.allowed_cpus());
}

// Proves the real machine loads, is recognised as this system, and agrees with the kernel on
// the CPUs this process may use.
TEST(Topology, RealMachineMatchesKernel) {
  Topology topo = Topology::load();
  EXPECT_EQ(topo.source(), strata::TopologySource::this_system);
  EXPECT_TRUE(topo.is_this_system());
  expect_consistent(topo);
  EXPECT_EQ(topo.allowed_cpus(), kernel_affinity().intersect(topo.all_cpus()));
  EXPECT_GT(topo.numa_nodes()[0].memory_bytes, 0u);
  EXPECT_GE(topo.core_count(), 1u);
  EXPECT_GT(topo.cache_bytes(1), 0u);
}

// Proves synthetic topologies with 1, 2 and 4 NUMA nodes give the node count, cores per node and
// disjoint CPU sets their description says, and are not mistaken for this system.
TEST(Topology, SyntheticNodeCounts) {
  for (unsigned nodes : {1u, 2u, 4u}) {
    Topology topo = Topology::synthetic("pack:" + std::to_string(nodes) + " numa:1 core:2 pu:1");
    SCOPED_TRACE(nodes);
    EXPECT_EQ(topo.source(), strata::TopologySource::synthetic);
    EXPECT_FALSE(topo.is_this_system());
    ASSERT_EQ(topo.numa_nodes().size(), nodes);
    ASSERT_EQ(topo.packages().size(), nodes);
    for (const auto& node : topo.numa_nodes()) {
      EXPECT_EQ(node.cores, 2u);
      EXPECT_EQ(node.pus, 2u);
      EXPECT_EQ(topo.packages()[node.package].numa_nodes, std::vector<unsigned>{node.index});
    }
    EXPECT_EQ(topo.core_count(), 2 * nodes);
    EXPECT_EQ(topo.allowed_cpus(), topo.all_cpus());
    expect_consistent(topo);
  }
}

// Proves several NUMA nodes inside one package are found and assigned to it.
TEST(Topology, SyntheticNodesWithinOnePackage) {
  Topology topo = Topology::synthetic("pack:1 group:2 numa:1 core:3 pu:2");
  ASSERT_EQ(topo.numa_nodes().size(), 2u);
  EXPECT_EQ(topo.packages()[0].numa_nodes, (std::vector<unsigned>{0, 1}));
  EXPECT_EQ(topo.numa_nodes()[1].cores, 3u);
  EXPECT_EQ(topo.numa_nodes()[1].pus, 6u);
  expect_consistent(topo);
}

// Proves a bad synthetic description is an invalid_argument error that names it.
TEST(Topology, BadSyntheticDescriptionIsAnError) {
  try {
    Topology::synthetic("pack:two numa:x");
    FAIL() << "accepted a bad description";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
    EXPECT_EQ(e.context_value("description"), "pack:two numa:x");
  }
}

// Proves load() honours HWLOC_SYNTHETIC, and rejects an invalid value naming the variable.
TEST(Topology, LoadHonoursHwlocSyntheticVariable) {
  ASSERT_EQ(setenv("HWLOC_SYNTHETIC", "pack:4 numa:1 core:1 pu:1", 1), 0);
  Topology topo = Topology::load();
  EXPECT_EQ(topo.numa_nodes().size(), 4u);
  ASSERT_EQ(setenv("HWLOC_SYNTHETIC", "nonsense:3", 1), 0);
  try {
    Topology::load();
    ADD_FAILURE() << "accepted a bad HWLOC_SYNTHETIC";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.context_value("variable"), "HWLOC_SYNTHETIC");
  }
  unsetenv("HWLOC_SYNTHETIC");
}

// Proves binding a thread on the real machine takes effect in the kernel: the thread's affinity
// becomes the requested CPU and the binding reads back.
TEST(Topology, BindsThreadOnRealMachine) {
  Topology topo = Topology::load();
  for (unsigned cpu : topo.allowed_cpus().cpus()) {
    std::thread worker([&] {
      EXPECT_TRUE(topo.bind_current_thread(CpuSet({cpu})));
      EXPECT_EQ(kernel_affinity(), CpuSet({cpu}));
      EXPECT_EQ(topo.current_thread_binding(), CpuSet({cpu}));
      EXPECT_EQ(static_cast<unsigned>(sched_getcpu()), cpu);
    });
    worker.join();
  }
}

// Proves binding on a synthetic topology is skipped (returns false) and leaves the real
// affinity of the thread untouched.
TEST(Topology, SyntheticBindingIsNotReal) {
  Topology topo = Topology::synthetic("pack:2 numa:1 core:1 pu:1");
  std::thread worker([&] {
    CpuSet before = kernel_affinity();
    EXPECT_FALSE(topo.bind_current_thread(topo.numa_nodes()[1].cpus));
    EXPECT_EQ(kernel_affinity(), before);
  });
  worker.join();
}

// Proves a binding request with no allowed CPU is refused instead of silently binding nowhere.
TEST(Topology, BindingOutsideAllowedCpusIsAnError) {
  Topology topo = Topology::load();
  unsigned outside = topo.all_cpus().cpus().back() + 1000;
  EXPECT_THROW(topo.bind_current_thread(CpuSet({outside})), strata::Error);
}

// Proves an unreadable XML topology file is an io error naming the file.
TEST(Topology, MissingXmlFileIsAnError) {
  try {
    Topology::from_xml("/nonexistent/topo.xml");
    FAIL();
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::io);
    EXPECT_EQ(e.context_value("file"), "/nonexistent/topo.xml");
  }
}

}  // namespace
