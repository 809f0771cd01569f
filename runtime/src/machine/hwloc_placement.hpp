// SPDX-License-Identifier: Apache-2.0
// Placement of memory on NUMA nodes through hwloc: the one place where a strata Placement becomes
// a memory binding, of an address range or of the calling thread. Placed regions, mapped files
// and shared segments use it. Private to runtime/: code outside the layer uses those types.
#pragma once

#include <hwloc.h>

#include <cstddef>

#include "strata/runtime/machine/topology.hpp"
#include "strata/runtime/memory/placement.hpp"

namespace strata::detail {

// An owned hwloc nodeset.
struct Nodeset {
  hwloc_bitmap_t map = hwloc_bitmap_alloc();
  Nodeset() = default;
  Nodeset(const Nodeset&) = delete;
  Nodeset& operator=(const Nodeset&) = delete;
  ~Nodeset() { hwloc_bitmap_free(map); }
};

// Throws Error(invalid_argument) naming the node when the placement names a node the topology
// does not have.
void validate_nodes(const Topology& topology, const Placement& placement);

// Applies the placement to [addr, addr + len) (page-aligned) before its pages are touched;
// `extra_flags` are hwloc membind flags such as HWLOC_MEMBIND_MIGRATE. Local is the kernel default
// and does nothing. Error(invalid_argument) for unknown nodes, Error(system) when hwloc refuses.
// The topology must be this system (Topology::is_this_system()).
void apply_placement(const Topology& topology, void* addr, std::size_t len,
                     const Placement& placement, int extra_flags);

// apply_placement when the topology is this machine, returning true. A synthetic or XML topology
// has no real nodes to bind to: returns false and, for a non-local placement, warns once.
bool apply_placement_if_real(const Topology& topology, void* addr, std::size_t len,
                             const Placement& placement);

// Sets the calling thread's memory policy to a placement while alive and restores the previous
// one after. Needed because the kernel allocates page-cache pages (shared file mappings) by the
// policy of the thread that faults them in, not by the policy of the mapping. Does nothing for a
// local placement or a topology that is not this machine.
class ScopedThreadPlacement {
 public:
  ScopedThreadPlacement(const Topology& topology, const Placement& placement);
  ScopedThreadPlacement(const ScopedThreadPlacement&) = delete;
  ScopedThreadPlacement& operator=(const ScopedThreadPlacement&) = delete;
  ~ScopedThreadPlacement();

 private:
  hwloc_topology_t topology_ = nullptr;  // null when nothing was changed
  Nodeset previous_nodes_;
  hwloc_membind_policy_t previous_policy_ = HWLOC_MEMBIND_DEFAULT;
};

}  // namespace strata::detail
