// SPDX-License-Identifier: Apache-2.0
// Run settings, sizes and baseline names shared by every case of the checkpoint suite. Google
// Benchmark builds a case's full name from these settings, so the baseline names are built here
// from the same constants (scripts/bench_report.py fails on a label naming an unknown case).
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/run_settings.hpp"

namespace strata::bench::checkpoint {

// One iteration per repetition: a save of the default 256 MiB takes about half a second here (the
// disk syncs at some 450 MB/s), so an iteration is long enough to time on its own, and eight
// repetitions interleaved at random by scripts/bench spread the shared machine's noise over the
// cases and their baselines. The whole suite takes about two minutes at the default size.
inline constexpr int iterations = 1;
inline constexpr int repetitions = 8;

// "<case>/iterations:1/repeats:8/real_time", the name Google Benchmark gives a case registered
// with apply_run_settings below.
inline std::string full_name(const std::string& name) {
  return name + "/iterations:" + std::to_string(iterations) +
         "/repeats:" + std::to_string(repetitions) + "/real_time";
}

// The baselines, one per question the suite answers (targets.md):
//   write()+fdatasync of the state's bytes (full saves, uncompressed and zstd 1);
//   the same arrays written with parallel HDF5 and synced (the same saves again);
//   memcpy of the state into a ready buffer (the time save() holds the caller);
//   pread() of the state's bytes from a file (restore).
// The incremental save is measured against the full zstd 1 save.
inline const std::string write_baseline = full_name("write_fdatasync");
inline const std::string hdf5_baseline = full_name("hdf5_write_fsync");
inline const std::string copy_baseline = full_name("memcpy_state");
inline const std::string read_baseline = full_name("pread_state");
inline const std::string full_zstd1_name = full_name("save_zstd1");

// The state: a 2-D f64 heat field of default_state_mib MiB, rows of grid_cols values (32 KiB).
// STRATA_BENCH_CHECKPOINT_MIB sets another size (whole MiB, at least 1); the default keeps the
// suite under two minutes on the 2-CPU development VM, each save long enough (a quarter to half a
// second) that the fsyncs' fixed costs do not dominate it.
inline constexpr std::size_t default_state_mib = 256;
inline constexpr const char* state_mib_variable = "STRATA_BENCH_CHECKPOINT_MIB";
inline constexpr std::size_t grid_cols = 4096;

// The Checkpointer's default chunk (CheckpointOptions::chunk_bytes), used by every case: 64
// chunks in 256 MiB, so the incremental case changes one chunk per save, 1.6 % of them (the
// nearest whole number of chunks to 1 %).
inline constexpr std::size_t chunk_bytes = std::size_t{4} << 20;
inline constexpr double changed_chunk_fraction = 0.01;

// Wall-clock time: a save waits on the disk, and the wait is what a job sees.
inline void apply_run_settings(benchmark::internal::Benchmark* b) {
  b->Iterations(iterations)
      ->Repetitions(repetitions)
      ->ReportAggregatesOnly(true)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace strata::bench::checkpoint
