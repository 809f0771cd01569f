// SPDX-License-Identifier: Apache-2.0
// Run settings, sizes and baseline names shared by every case of the io suite. The baselines'
// full names are built by Google Benchmark from these settings, so both live here: change one and
// the other must follow (scripts/bench_report.py fails on an unknown baseline).
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/run_settings.hpp"

namespace strata::bench::io {

// As in bench/limits: ten short repetitions and their median, interleaved by scripts/bench with
// every other case's, so a busy spell of the shared machine falls on a case and its baseline
// alike. The whole suite, making the dataset included, takes about 40 seconds.
inline constexpr double min_time_seconds = 0.2;
inline constexpr int repetitions = 10;

// Each baseline is the system-call way of doing its group's work; every other case of the group
// names it in its label ("vs:<name>", bench/README.md).
inline constexpr const char* read_baseline = "read_buffer/min_time:0.200/repeats:10/real_time";
inline constexpr const char* random_baseline =
    "pread_random_8b/min_time:0.200/repeats:10/real_time";
inline constexpr const char* first_pass_baseline =
    "first_pass_no_populate/min_time:0.200/repeats:10/real_time";

// 1 GiB of f64: ten times this machine's 105 MiB L3, so every scan streams from DRAM, and with
// its HDF5 copy 2 GiB of page cache, inside the suite's memory budget of about 3 GiB.
inline constexpr std::uint64_t dataset_bytes = std::uint64_t{1} << 30;
// 1 MiB per read() or HDF5 read, as bench/limits' page_cache_read: the call costs about a
// microsecond against some 100 us of copying, and the buffer stays in L2.
inline constexpr std::size_t read_piece_bytes = std::size_t{1} << 20;
// Random reads per pass: about a quarter of a second of pread() calls at a microsecond each, and
// far more distinct pages than any TLB maps, so the mapped loads miss it as a real lookup would.
inline constexpr std::size_t random_reads = std::size_t{1} << 18;
inline constexpr std::uint64_t random_seed = 20261122;

// Labels a case for the report: "baseline", or "vs:<baseline name>" (bench/README.md).
inline void set_ratio_label(benchmark::State& state, const char* baseline_name, bool is_baseline) {
  strata::bench::label_ratio(state, baseline_name, is_baseline);
}

// Wall-clock time: the baselines spend theirs in the kernel, and the kernel's time is what a job
// waits for. One thread everywhere, so a ratio compares access paths, not parallelism.
inline void apply_run_settings(benchmark::internal::Benchmark* b) {
  strata::bench::apply_run_settings(b, min_time_seconds, repetitions);
}

}  // namespace strata::bench::io
