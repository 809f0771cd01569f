// strata_bench_kernels' main(): makes the suite's data (suite_data.hpp) before any case runs, so
// no case times its making and a failure stops the run with a clear message, then runs the cases.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>
#include <string>

#include "suite_data.hpp"

int main(int argc, char** argv) {
  using namespace strata::bench::kernels;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    data();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_bench_kernels: cannot make the data: %s\n", e.what());
    return 1;
  }
  benchmark::AddCustomContext("kernels_value_bytes", std::to_string(value_bytes));
  benchmark::AddCustomContext("kernels_stencil_grid",
                              std::to_string(grid_rows) + " x " + std::to_string(grid_cols));
  benchmark::AddCustomContext("kernels_all_threads", "2");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
