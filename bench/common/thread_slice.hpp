// SPDX-License-Identifier: Apache-2.0
// The part of an array one Google Benchmark thread works on, shared by every multi-threaded case
// (bench/limits' read and copy limits, bench/kernels' baselines) so they split work the same way.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <span>

namespace strata::bench {

// The part of `whole` that benchmark thread `state.thread_index()` of `state.threads()` works on.
template <typename T>
std::span<T> thread_slice(std::span<T> whole, const benchmark::State& state) {
  const auto threads = static_cast<std::size_t>(state.threads());
  const auto index = static_cast<std::size_t>(state.thread_index());
  const std::size_t begin = whole.size() * index / threads;
  const std::size_t end = whole.size() * (index + 1) / threads;
  return whole.subspan(begin, end - begin);
}

}  // namespace strata::bench
