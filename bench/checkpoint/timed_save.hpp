// SPDX-License-Identifier: Apache-2.0
// The timed unit of every case that saves: save() then wait(), i.e. the copy, checksums,
// compression, the shard written and fsynced, the manifest, the rename and the folder's fsync —
// a checkpoint as durable as the baselines' fdatasync + folder fsync.
#pragma once

#include <benchmark/benchmark.h>

#include <functional>
#include <string>

#include "suite_state.hpp"

namespace strata::bench::checkpoint {

// Times one committed save of `s` per iteration, after `untimed_before` (when given) has run with
// the timer paused; sets the state's bytes processed per iteration, so the report's ratio is an
// effective bandwidth: the raw bytes saved per second, however few were written.
void time_committed_saves(benchmark::State& state, saver s,
                          const std::function<void()>& untimed_before = {});

// The baselines' timed unit: one durable copy of the whole field per iteration, written by
// `write_file(path)` into one of two files `<suite folder>/<folder>/state.{0,1}<suffix>` that
// alternate throughout the run (each replaces the copy before last, as retention does for saves),
// then the folder fsync()ed; bytes processed and errors as time_committed_saves.
void time_durable_writes(benchmark::State& state, const std::string& folder,
                         const std::string& suffix,
                         const std::function<void(const std::string&)>& write_file);

}  // namespace strata::bench::checkpoint
