// The timed unit of every case that saves: save() then wait(), i.e. the copy, checksums,
// compression, the shard written and fsynced, the manifest, the rename and the folder's fsync —
// a checkpoint as durable as the baselines' fdatasync + folder fsync.
#pragma once

#include <benchmark/benchmark.h>

#include <functional>

#include "suite_state.hpp"

namespace strata::bench::checkpoint {

// Times one committed save of `s` per iteration, after `untimed_before` (when given) has run with
// the timer paused; sets the state's bytes processed per iteration, so the report's ratio is an
// effective bandwidth: the raw bytes saved per second, however few were written.
void time_committed_saves(benchmark::State& state, saver s,
                          const std::function<void()>& untimed_before = {});

}  // namespace strata::bench::checkpoint
