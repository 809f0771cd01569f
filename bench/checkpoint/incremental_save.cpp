// SPDX-License-Identifier: Apache-2.0
// An incremental save with 1 % of the chunks changed against a full one (save_zstd1, the same
// codec and chunk size, incremental off). Before each timed save, untimed, the sign of every
// value in the chosen chunks flips (0.0 becomes -0.0 too, so every byte pattern changes and the
// field stays as compressible); the chosen chunks move on at every save.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>

#include "checkpoint_settings.hpp"
#include "suite_state.hpp"
#include "timed_save.hpp"

namespace strata::bench::checkpoint {
namespace {

void flip_chunks(std::size_t save_index) {
  const std::size_t values_per_chunk = chunk_bytes / sizeof(double);
  const std::span<double> field = suite().field();
  const std::size_t chunks = (field.size() + values_per_chunk - 1) / values_per_chunk;
  const auto changed = std::max<std::size_t>(
      1,
      static_cast<std::size_t>(std::lround(changed_chunk_fraction * static_cast<double>(chunks))));
  const std::size_t stride = chunks / changed;
  for (std::size_t k = 0; k < changed; ++k) {
    const std::size_t chunk = (k * stride + save_index) % chunks;
    const std::size_t first = chunk * values_per_chunk;
    for (double& v : field.subspan(first, std::min(values_per_chunk, field.size() - first))) v = -v;
  }
}

void save_incremental_1pct(benchmark::State& state) {
  label_ratio(state, full_zstd1_name.c_str(), false);
  static std::size_t saves = 0;
  time_committed_saves(state, saver::incremental, [] { flip_chunks(saves++); });
}

BENCHMARK(save_incremental_1pct)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::checkpoint
