// SPDX-License-Identifier: Apache-2.0
// Placement: where the pages of a region should live among the NUMA nodes (docs/design.md,
// "Layers"): local (first touch), bind(node), interleave(nodes), preferred(node). Applied
// through hwloc when a region is created; migrate moves an existing region.
//
//   auto region = PlacedRegion::allocate(topo, 1 << 30, {.placement = Placement::bind(1)});
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace strata {

enum class PlacementPolicy {
  local,       // each page on the node of the thread that first touches it (the kernel default)
  bind,        // only on the given node; allocation fails rather than spill elsewhere
  interleave,  // round-robin over the given nodes (all nodes when none given)
  preferred,   // on the given node while it has memory, elsewhere after
};
std::string_view to_string(PlacementPolicy policy) noexcept;

class Placement {
 public:
  static Placement local() { return Placement(PlacementPolicy::local, {}); }
  static Placement bind(unsigned node) { return Placement(PlacementPolicy::bind, {node}); }
  // An empty list means every node of the topology.
  static Placement interleave(std::vector<unsigned> nodes = {}) {
    return Placement(PlacementPolicy::interleave, std::move(nodes));
  }
  static Placement preferred(unsigned node) { return Placement(PlacementPolicy::preferred, {node}); }

  PlacementPolicy policy() const noexcept { return policy_; }
  // Logical NUMA node indexes (Topology::numa_nodes()[i].index).
  const std::vector<unsigned>& nodes() const noexcept { return nodes_; }
  // "local", "bind(1)", "interleave(0,1)", "preferred(0)".
  std::string to_string() const;

  friend bool operator==(const Placement&, const Placement&) = default;

 private:
  Placement(PlacementPolicy policy, std::vector<unsigned> nodes)
      : policy_(policy), nodes_(std::move(nodes)) {}
  PlacementPolicy policy_;
  std::vector<unsigned> nodes_;
};

}  // namespace strata
