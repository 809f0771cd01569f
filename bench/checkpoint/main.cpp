// SPDX-License-Identifier: Apache-2.0
// strata_bench_checkpoint's main(): starts the strata Runtime (MPI as a singleton, one rank) and
// an Executor, which the Checkpointer needs, then makes the suite's state (suite_state.hpp:
// field, checkpointers, warm-up saves, the read cases' files, all checked) before any case runs,
// and tears it down before the Runtime goes.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>

#include "strata/runtime/cluster/runtime.hpp"
#include "strata/scheduler/executor.hpp"
#include "suite_state.hpp"

int main(int argc, char** argv) {
  namespace checkpoint = strata::bench::checkpoint;
  int status = 0;
  try {
    // MPI started even without a launcher: the HDF5 baseline opens its file through MPI-IO.
    strata::Runtime runtime(argc, argv,
                            {.install_stop_signals = false, .mpi_start = strata::MpiStart::always});
    if (runtime.size() != 1) {
      // Every rank would write the same scratch files and time the others' I/O as well as its own.
      std::fprintf(stderr, "strata_bench_checkpoint: runs on one rank (started on %d)\n",
                   runtime.size());
      return 2;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    strata::Executor executor(runtime);
    checkpoint::suite_state state(runtime, executor);
    checkpoint::set_suite(&state);
    state.add_context();
    benchmark::RunSpecifiedBenchmarks();
    checkpoint::set_suite(nullptr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_bench_checkpoint: %s\n", e.what());
    status = 1;
  }
  benchmark::Shutdown();
  return status;
}
