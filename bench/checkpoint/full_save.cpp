// SPDX-License-Identifier: Apache-2.0
// A full save against write()+fdatasync of the same bytes: the baseline writes the field's bytes
// into a file and syncs it and its folder; strata saves every chunk (incremental off) raw or as
// zstd level 1 frames and commits. Both keep the last two copies, so each replaces (and frees)
// the copy before last inside its timed work: O_TRUNC for the file, retention for the checkpoint.
#include <benchmark/benchmark.h>

#include <string>

#include "checkpoint_settings.hpp"
#include "durable_file.hpp"
#include "suite_state.hpp"
#include "timed_save.hpp"

namespace strata::bench::checkpoint {
namespace {

void write_fdatasync(benchmark::State& state) {
  label_ratio(state, write_baseline.c_str(), true);
  time_durable_writes(state, "write_fdatasync", "", [](const std::string& path) {
    checkpoint::write_fdatasync(path, suite().field_bytes());
  });
}

void save_none(benchmark::State& state) {
  label_ratio(state, write_baseline.c_str(), false);
  time_committed_saves(state, saver::full_none);
}

// Effective bandwidth: the raw bytes saved per second (the shard holds
// checkpoint_zstd1_shard_fraction of them).
void save_zstd1(benchmark::State& state) {
  label_ratio(state, write_baseline.c_str(), false);
  time_committed_saves(state, saver::full_zstd1);
}

BENCHMARK(write_fdatasync)->Apply(apply_run_settings);
BENCHMARK(save_none)->Apply(apply_run_settings);
BENCHMARK(save_zstd1)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::checkpoint
