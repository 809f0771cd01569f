// SPDX-License-Identifier: Apache-2.0
// The time save() holds the caller against a plain copy of the state: memcpy of the field into a
// ready, touched buffer (the baseline) against save() returning, its staging buffer allocated by
// an earlier save as in any run after the first checkpoint. wait() runs with the timer paused, so
// the background work (checksums, zstd, writing, commit) is outside the measurement; so is the
// background work of the previous save, which wait() finished before the timed save() starts.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <exception>

#include "checkpoint_settings.hpp"
#include "suite_state.hpp"

namespace strata::bench::checkpoint {
namespace {

void memcpy_state(benchmark::State& state) {
  label_ratio(state, copy_baseline.c_str(), true);
  for (auto _ : state) {
    std::memcpy(suite().scratch().data(), suite().field_bytes().data(), suite().state_bytes());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(suite().state_bytes()));
}

void save_returns(benchmark::State& state) {
  label_ratio(state, copy_baseline.c_str(), false);
  io::Checkpointer& checkpointer = suite().checkpointer(saver::blocking);
  try {
    for (auto _ : state) {
      checkpointer.save(suite().next_step(saver::blocking));
      state.PauseTiming();
      checkpointer.wait();
      state.ResumeTiming();
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(suite().state_bytes()));
}

BENCHMARK(memcpy_state)->Apply(apply_run_settings);
BENCHMARK(save_returns)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::checkpoint
