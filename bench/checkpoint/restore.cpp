// SPDX-License-Identifier: Apache-2.0
// Restore against a raw read: pread() of a file holding the field's bytes into a ready buffer
// (the baseline) against restore_latest() of a checkpoint of the same field, raw or zstd level 1,
// into the protected array (manifest parsed, every chunk read, decoded and checked against its
// XXH3, staged and copied into place). Nothing is dropped from the page cache on either side: the
// files were written and read back once by the warm-up (shards are written with O_DIRECT, so that
// first read is what caches them) and stay cached (the suite's memory budget allows it), so both
// sides read from memory and the ratio measures strata's read path, not the disk.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "checkpoint_settings.hpp"
#include "durable_file.hpp"
#include "suite_state.hpp"

namespace strata::bench::checkpoint {
namespace {

void pread_state(benchmark::State& state) {
  label_ratio(state, read_baseline.c_str(), true);
  const std::string path = suite().raw_file();
  try {
    for (auto _ : state) {
      pread_file(path, suite().scratch());
      benchmark::ClobberMemory();
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(suite().state_bytes()));
}

void time_restores(benchmark::State& state, saver s) {
  label_ratio(state, read_baseline.c_str(), false);
  io::Checkpointer& checkpointer = suite().checkpointer(s);
  try {
    for (auto _ : state) {
      if (!checkpointer.restore_latest()) {
        state.SkipWithError("restore_latest found no checkpoint");
        break;
      }
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(suite().state_bytes()));
}

void restore_none(benchmark::State& state) { time_restores(state, saver::restore_none); }
void restore_zstd1(benchmark::State& state) { time_restores(state, saver::restore_zstd1); }

BENCHMARK(pread_state)->Apply(apply_run_settings);
BENCHMARK(restore_none)->Apply(apply_run_settings);
BENCHMARK(restore_zstd1)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::checkpoint
