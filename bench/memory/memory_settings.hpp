// SPDX-License-Identifier: Apache-2.0
// Run settings, sizes and baseline names shared by every case of the memory suite, and the one
// topology its cases allocate on. The baselines' full names are built by Google Benchmark from
// these settings, so both live here: change one and the other must follow.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "strata/runtime/machine/topology.hpp"

#include "common/run_settings.hpp"

namespace strata::bench::memory {

// As in bench/limits: ten short repetitions and their median, interleaved by scripts/bench with
// every other case's, so a busy spell of the shared machine falls on a case and its baseline
// alike. The whole suite takes a little over a minute.
inline constexpr double min_time_seconds = 0.2;
inline constexpr int repetitions = 10;

// Each baseline is the plainest way of doing its group's work; every other case of the group
// names it in its label ("vs:<name>", bench/README.md).
inline constexpr const char* first_touch_baseline =
    "first_touch/base_4k/min_time:0.200/repeats:10/real_time";
inline constexpr const char* populate_baseline =
    "populate/base_4k/min_time:0.200/repeats:10/real_time";
// bench/limits' read loop over memory mapped as bench/limits maps it.
inline constexpr const char* read_baseline = "read_sum/min_time:0.200/repeats:10/real_time";
inline constexpr const char* allocate_baseline =
    "allocate/local/min_time:0.200/repeats:10/real_time";

// 256 MiB per first-touch or populate pass: 65,536 faults of 4 KiB or 128 of 2 MiB, enough that
// the per-pass costs (the mapping, one smaps read) vanish, small enough for several passes in
// each 0.2 s repetition.
inline constexpr std::size_t fault_region_bytes = std::size_t{256} << 20;
// 1 GiB for the read pass, as bench/limits reads: ten times this machine's 105 MiB L3, so every
// pass streams from DRAM, and over a hundred times what 4 KiB pages can map in a second-level TLB
// of a couple of thousand entries, while 2 MiB pages map gigabytes: the TLB effect shows in full.
inline constexpr std::size_t read_region_bytes = std::size_t{1} << 30;
// One 2 MiB region per placement call: the size of one huge page, the smallest a placed array
// block would sensibly be.
inline constexpr std::size_t placement_region_bytes = std::size_t{2} << 20;

// 2 MiB hugetlb pages main() reserves for the run: the 512 of the read region (the largest case;
// cases run one at a time and free their regions) and a margin for whatever else on the machine
// holds a few.
inline constexpr std::uint64_t huge_2m_pages_wanted = 600;

// Labels a case for the report: "baseline", or "vs:<baseline name>" (bench/README.md).
inline void set_ratio_label(benchmark::State& state, const char* baseline_name, bool is_baseline) {
  strata::bench::label_ratio(state, baseline_name, is_baseline);
}

// Wall-clock time: page faults and system calls spend most of theirs in the kernel, and the
// kernel's time is what a job waits for.
inline void apply_run_settings(benchmark::internal::Benchmark* b) {
  strata::bench::apply_run_settings(b, min_time_seconds, repetitions);
}

// The machine's topology, loaded on first use; main() calls this before the cases run, so the
// load is timed by none of them and a failure to load stops the run with a clear message.
const Topology& suite_topology();

}  // namespace strata::bench::memory
