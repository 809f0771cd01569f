// SPDX-License-Identifier: Apache-2.0
// Placement's names, as shown in logs, statistics and `strata info --memory`.
#include "strata/runtime/memory/placement.hpp"

namespace strata {

std::string_view to_string(PlacementPolicy policy) noexcept {
  switch (policy) {
    case PlacementPolicy::local: return "local";
    case PlacementPolicy::bind: return "bind";
    case PlacementPolicy::interleave: return "interleave";
    case PlacementPolicy::preferred: return "preferred";
  }
  return "unknown";
}

std::string Placement::to_string() const {
  std::string out(strata::to_string(policy_));
  if (policy_ == PlacementPolicy::local) return out;
  out += '(';
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (i != 0) out += ',';
    out += std::to_string(nodes_[i]);
  }
  out += ')';
  return out;
}

}  // namespace strata
