// SPDX-License-Identifier: Apache-2.0
// Which SIMD instruction sets strata's kernels were compiled for, which of them this CPU supports,
// and the one Highway's run-time dispatch picks here. Every kernel family dispatches the same way,
// so the target reported here is the one they all run on.
//
//   auto t = strata::kernels::simd_targets();
//   std::cout << "kernels run on " << t.dispatched << '\n';   // e.g. "AVX3" (AVX-512)
#pragma once

#include <string>
#include <vector>

namespace strata::kernels {

struct SimdTargets {
  std::vector<std::string> compiled;   // targets built into this binary, best first
  std::vector<std::string> supported;  // of those Highway knows, the ones this CPU can run
  std::string dispatched;              // the target the dynamic dispatch selects on this CPU
};

SimdTargets simd_targets();

}  // namespace strata::kernels
