// SPDX-License-Identifier: Apache-2.0
// Run settings and case names of the scale suite. Every rank runs every case the same fixed number
// of times (an adaptive count would differ between ranks and leave one waiting in a collective),
// and every name carries the rank count, so the runs at 1..16 ranks merge into one suite.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>

#include "strata/runtime/cluster/runtime.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata::bench::scale {

// The job every case runs in, made by main() before any case is registered.
Runtime& runtime();
// One thread per rank: 16 ranks share the 2 CPUs of the development machine.
Executor& executor();
// A folder of its own under $TMPDIR (else /tmp), removed at the end; the same path on every rank.
const std::string& scratch_folder();

// Collectives of a few hundred bytes take microseconds to a millisecond (16 ranks on 2 CPUs):
// 200 back-to-back merges per repetition are long enough to time and short enough for the sweep.
inline constexpr int merge_iterations = 200;
// A commit or restore of the tiny state takes a millisecond (1 rank) to tens of them (16 ranks
// oversubscribed): 20 per repetition.
inline constexpr int checkpoint_iterations = 20;
inline constexpr int repetitions = 5;

// The analysis result merged across ranks, as examples/analysis merges it: a Stats and a
// histogram of this many bins.
inline constexpr int histogram_bins = 64;

// The tiny protected state: this many f64 values per rank (one 512-byte row), so that the
// protocol, not the bytes, is what a save and a restore cost.
inline constexpr int state_values = 64;

// The per-rank constants measured in the 1-rank run only (local_cases.cpp): folding this many
// ranks' partial results; parsing a manifest of this many region records (each a block record
// too, as a rank's records are), and decoding a shard's chunk index of this many entries (1 KiB
// chunks, so a 64 MiB state saves quickly; an index's size depends on its entries, not the bytes).
inline constexpr int fold_partials = 4096;
inline constexpr std::size_t manifest_records = 4096;
inline constexpr std::size_t manifest_chunks = 65536;
inline constexpr std::size_t manifest_chunk_bytes = 1024;
inline constexpr int local_iterations = 5;

// "<name>/ranks:<n>", the family name every case gets at n ranks.
inline std::string at_ranks(const std::string& name, int ranks) {
  return name + "/ranks:" + std::to_string(ranks);
}

// Full names as Google Benchmark prints them for the settings below.
inline std::string timed_name(const std::string& name, int ranks, int iterations) {
  return at_ranks(name, ranks) + "/iterations:" + std::to_string(iterations) +
         "/repeats:" + std::to_string(repetitions) + "/real_time";
}
inline std::string timed_name_local(const std::string& name, int iterations) {
  return name + "/iterations:" + std::to_string(iterations) +
         "/repeats:" + std::to_string(repetitions) + "/real_time";
}
inline std::string manual_name(const std::string& name, int ranks) {
  return at_ranks(name, ranks) + "/iterations:1/manual_time";
}

inline void apply_timed_settings(benchmark::internal::Benchmark* b, int iterations) {
  b->Iterations(iterations)
      ->Repetitions(repetitions)
      ->ReportAggregatesOnly(true)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

// Registration, one function per file; each takes the job's rank count.
void register_merge_cases(int ranks);
void register_checkpoint_cases(int ranks);
// Only in the 1-rank run: they involve no other rank.
void register_local_cases();
void register_record_cases();
// Start-up happened once, before any case: the cases report the slowest rank's times (seconds).
void register_startup_cases(int ranks, double mpi_init_seconds, double runtime_seconds);

}  // namespace strata::bench::scale
