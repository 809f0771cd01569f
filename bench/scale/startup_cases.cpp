// SPDX-License-Identifier: Apache-2.0
// Runtime start-up at n ranks, measured once per process before any case (MPI can start only once
// per process): from main()'s entry to MPI_Init_thread's return (the baseline) and to the
// Runtime constructed on top of it (topology, Slurm environment, node-local communicator,
// memory manager). Each case reports the slowest rank's time as manual time, as a job waits for
// its slowest rank.
#include "common/run_settings.hpp"
#include "scale_settings.hpp"

namespace strata::bench::scale {

void register_startup_cases(int ranks, double mpi_init_seconds, double runtime_seconds) {
  const std::string baseline = manual_name("startup_mpi_init", ranks);
  auto report = [](benchmark::State& state, double seconds, const std::string& base) {
    for (auto _ : state) state.SetIterationTime(seconds);
    label_ratio(state, base.c_str(), base.empty());
  };
  benchmark::RegisterBenchmark(at_ranks("startup_mpi_init", ranks).c_str(),
                               [=](benchmark::State& s) { report(s, mpi_init_seconds, ""); })
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(at_ranks("startup_runtime", ranks).c_str(),
                               [=](benchmark::State& s) { report(s, runtime_seconds, baseline); })
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace strata::bench::scale
