// SPDX-License-Identifier: Apache-2.0
// Placement through hwloc: translates logical NUMA node indexes to the OS nodeset hwloc wants and
// a strata policy to hwloc's, then binds an address range or the calling thread.
#include "machine/hwloc_placement.hpp"

#include <cerrno>
#include <string>
#include <vector>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"

namespace strata::detail {
namespace {

void fill_nodeset(const Topology& topo, const std::vector<unsigned>& nodes, Nodeset& set) {
  for (unsigned n : nodes) {
    if (n >= topo.numa_nodes().size()) {
      throw Error(ErrorCategory::invalid_argument, "no such NUMA node",
                  {{"node", std::to_string(n)},
                   {"nodes", std::to_string(topo.numa_nodes().size())}});
    }
    hwloc_bitmap_set(set.map, topo.numa_nodes()[n].os_index);
  }
}

// The hwloc nodeset, policy and flags that express a (non-local) placement.
struct Binding {
  Nodeset set;
  hwloc_membind_policy_t policy = HWLOC_MEMBIND_BIND;
  int flags = HWLOC_MEMBIND_BYNODESET;
};

void to_binding(const Topology& topo, const Placement& placement, Binding& out) {
  std::vector<unsigned> nodes = placement.nodes();
  if (nodes.empty()) {
    for (const auto& n : topo.numa_nodes()) nodes.push_back(n.index);
  }
  fill_nodeset(topo, nodes, out.set);
  switch (placement.policy()) {
    case PlacementPolicy::bind: out.flags |= HWLOC_MEMBIND_STRICT; break;
    case PlacementPolicy::interleave: out.policy = HWLOC_MEMBIND_INTERLEAVE; break;
    case PlacementPolicy::preferred: break;  // BIND without STRICT: the kernel's preferred policy
    case PlacementPolicy::local: break;
  }
}

}  // namespace

void validate_nodes(const Topology& topo, const Placement& placement) {
  Nodeset set;
  fill_nodeset(topo, placement.nodes(), set);
}

void apply_placement(const Topology& topo, void* addr, std::size_t len, const Placement& placement,
                     int extra_flags) {
  if (placement.policy() == PlacementPolicy::local) return;  // the kernel default: first touch
  Binding b;
  to_binding(topo, placement, b);
  auto* handle = static_cast<hwloc_topology_t>(topo.native_handle());
  if (hwloc_set_area_membind(handle, addr, len, b.set.map, b.policy, b.flags | extra_flags) != 0) {
    throw_system_error("cannot apply placement " + placement.to_string(), errno,
                       {{"bytes", std::to_string(len)}});
  }
}

bool apply_placement_if_real(const Topology& topo, void* addr, std::size_t len,
                             const Placement& placement) {
  if (topo.is_this_system()) {
    apply_placement(topo, addr, len, placement, 0);
    return true;
  }
  if (placement.policy() != PlacementPolicy::local) {
    log::warn_once("placement-synthetic",
                   "memory placement skipped: the topology is " +
                       std::string(to_string(topo.source())) + ", not this machine");
  }
  return false;
}

ScopedThreadPlacement::ScopedThreadPlacement(const Topology& topo, const Placement& placement) {
  if (placement.policy() == PlacementPolicy::local || !topo.is_this_system()) return;
  Binding b;
  to_binding(topo, placement, b);
  auto* handle = static_cast<hwloc_topology_t>(topo.native_handle());
  const int thread = HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET;
  if (hwloc_get_membind(handle, previous_nodes_.map, &previous_policy_, thread) != 0) {
    throw_system_error("cannot read this thread's memory policy", errno);
  }
  if (hwloc_set_membind(handle, b.set.map, b.policy, b.flags | HWLOC_MEMBIND_THREAD) != 0) {
    throw_system_error("cannot set this thread's memory policy to " + placement.to_string(), errno);
  }
  topology_ = handle;
}

ScopedThreadPlacement::~ScopedThreadPlacement() {
  if (topology_ == nullptr) return;
  // Restoring what the kernel just reported cannot meaningfully fail; a destructor cannot throw.
  hwloc_set_membind(topology_, previous_nodes_.map, previous_policy_,
                    HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET);
}

}  // namespace strata::detail
