// SPDX-License-Identifier: Apache-2.0
// Topology: the machine as hwloc sees it — packages, NUMA nodes with their memory and CPUs, cores,
// PUs, caches — plus the CPUs this process may use (what Slurm, taskset or a cgroup gave it) and
// thread binding. Loaded from this system, or from a synthetic description or XML file so NUMA
// logic can be tested on a machine with one node.
//
//   auto topo = strata::Topology::load();    // honours HWLOC_SYNTHETIC / HWLOC_XMLFILE
//   for (const auto& node : topo.numa_nodes()) use(node.cpus, node.memory_bytes);
//   topo.bind_current_thread(topo.numa_nodes()[0].cpus);
//
// On a synthetic or XML topology binding is not real: bind_current_thread() does nothing, returns
// false and says so once in the log, and the rest of the runtime plans as if it were.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/runtime/base/cpu_set.hpp"

namespace strata {

enum class TopologySource { this_system, synthetic, xml };
std::string_view to_string(TopologySource source) noexcept;

struct NumaNode {
  unsigned index = 0;              // logical index, 0..n-1, the index strata uses everywhere
  unsigned os_index = 0;           // the kernel's node number (/sys/devices/system/node/nodeN)
  std::uint64_t memory_bytes = 0;  // local memory
  CpuSet cpus;                     // all CPUs of the node (not only the allowed ones)
  unsigned cores = 0;
  unsigned pus = 0;
  unsigned package = 0;  // logical index of the enclosing package
};

struct Package {
  unsigned index = 0;
  CpuSet cpus;
  std::vector<unsigned> numa_nodes;  // logical NUMA node indexes in this package
  unsigned cores = 0;
};

struct CacheLevel {
  unsigned level = 0;            // 1, 2, 3...
  std::string kind;              // "data", "instruction" or "unified"
  std::uint64_t size_bytes = 0;  // of one cache instance
  unsigned line_bytes = 0;
  unsigned count = 0;  // instances in the machine
};

class Topology {
 public:
  // This system, unless HWLOC_SYNTHETIC or HWLOC_XMLFILE is set in the environment, in which case
  // that description is loaded (an invalid one throws Error(invalid_argument) naming the variable).
  static Topology load();
  // A synthetic topology, e.g. "pack:2 numa:1 core:2 pu:1". Throws Error(invalid_argument).
  static Topology synthetic(const std::string& description);
  // A topology exported by `lstopo file.xml`. Throws Error(io) naming the file.
  static Topology from_xml(const std::string& path);

  Topology(Topology&&) noexcept;
  Topology& operator=(Topology&&) noexcept;
  ~Topology();

  TopologySource source() const noexcept;
  // True when the topology describes the machine this process runs on, so binding is real.
  bool is_this_system() const noexcept;
  // The synthetic description or XML path; empty for this system.
  const std::string& origin() const noexcept;

  const std::vector<Package>& packages() const noexcept;
  const std::vector<NumaNode>& numa_nodes() const noexcept;
  const std::vector<CacheLevel>& caches() const noexcept;
  unsigned core_count() const noexcept;
  unsigned pu_count() const noexcept;
  // Every CPU of the machine.
  const CpuSet& all_cpus() const noexcept;
  // The CPUs this process may run on: its affinity mask (set by Slurm, taskset, numactl) within
  // the machine's CPUs. On a synthetic topology, all of its CPUs.
  const CpuSet& allowed_cpus() const noexcept;
  // The NUMA node holding `cpu`, or -1 if the CPU is not in the topology.
  int numa_node_of_cpu(unsigned cpu) const noexcept;
  // Size in bytes of the largest data or unified cache of `level` (0 if absent).
  std::uint64_t cache_bytes(unsigned level) const noexcept;

  // Binds the calling thread to `cpus`. Returns true when bound; false when the topology is not
  // this system (binding would be meaningless; logged once). Throws Error(invalid_argument) when
  // `cpus` holds no allowed CPU, Error(system) when the kernel refuses.
  bool bind_current_thread(const CpuSet& cpus) const;
  // The calling thread's current CPU binding; allowed_cpus() when not this system.
  CpuSet current_thread_binding() const;

  // For strata's own layers (placement); the object is an hwloc_topology_t.
  void* native_handle() const noexcept;

  struct Impl;  // opaque; defined in runtime/src
  explicit Topology(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
