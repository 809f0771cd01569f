// SPDX-License-Identifier: Apache-2.0
// Reports Highway's compiled, supported and dispatched targets. The dispatched one is found by
// really dispatching a per-target function, the same mechanism every kernel uses.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd_targets.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace strata::kernels {
namespace HWY_NAMESPACE {

std::int64_t compiled_target() { return HWY_TARGET; }

}  // namespace HWY_NAMESPACE
}  // namespace strata::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <hwy/targets.h>

#include "strata/kernels/simd_targets.hpp"

namespace strata::kernels {
namespace {

HWY_EXPORT(compiled_target);

// Names of the targets set in `bits`, best first (Highway gives better targets lower bits).
std::vector<std::string> target_names(std::int64_t bits) {
  std::vector<std::string> names;
  for (std::int64_t rest = bits; rest != 0; rest &= rest - 1) {
    names.emplace_back(hwy::TargetName(rest & -rest));
  }
  return names;
}

}  // namespace

SimdTargets simd_targets() {
  SimdTargets t;
  t.compiled = target_names(HWY_TARGETS);
  t.supported = target_names(hwy::SupportedTargets());
  t.dispatched = hwy::TargetName(HWY_DYNAMIC_DISPATCH(compiled_target)());
  return t;
}

}  // namespace strata::kernels
#endif  // HWY_ONCE
