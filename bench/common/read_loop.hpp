// SPDX-License-Identifier: Apache-2.0
// The vectorised read loop that bench/limits measures the machine's read bandwidth with, shared so
// that every suite reading memory against that limit (bench/memory's read pass) runs the very same
// code: a ratio to the limit means something only if the loop is identical.
#pragma once

#include <array>
#include <cstddef>
#include <numeric>
#include <span>

namespace strata::bench {

// Sum with 16 independent accumulators: floating-point addition is not associative, so without
// them the compiler must keep one serial chain of adds and cannot vectorise. With them, -O3
// turns the inner loop into vector adds into several vector registers, and the loop is bound by
// memory, not by add latency. The default x86-64 target (SSE2) is enough: built with
// -march=native (AVX-512) it measured no faster here, since DRAM, not the adds, sets the pace.
// noinline keeps it one visible function in a profile (inline only for the one-definition rule).
[[gnu::noinline]] inline double sum_doubles(std::span<const double> x) noexcept {
  constexpr std::size_t lanes = 16;
  std::array<double, lanes> acc{};
  std::size_t i = 0;
  for (; i + lanes <= x.size(); i += lanes) {
    for (std::size_t j = 0; j < lanes; ++j) acc[j] += x[i + j];
  }
  for (; i < x.size(); ++i) acc[0] += x[i];
  return std::accumulate(acc.begin(), acc.end(), 0.0);
}

}  // namespace strata::bench
