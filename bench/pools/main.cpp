// SPDX-License-Identifier: Apache-2.0
// strata_bench_pools' main() (and strata_bench_pools_glibc's): owns the topology and the pool the
// pool cases use, asks which allocator answers malloc in this process, names the C-library cases
// after it, and runs. In strata_bench_pools that is mimalloc (Debian's libmimalloc replaces malloc
// in any process that links it), so its C-library cases are left out; jemalloc when scripts/bench
// preloads it; glibc in strata_bench_pools_glibc, which does not link mimalloc.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "allocators.hpp"
#include "pools_settings.hpp"
#include "strata/runtime/machine/topology.hpp"

namespace strata::bench::pools {
namespace {
std::unique_ptr<Topology> topology;
std::unique_ptr<NumaPool> pool;
}  // namespace

}  // namespace strata::bench::pools

int main(int argc, char** argv) {
  namespace pools = strata::bench::pools;
  const std::string system = pools::system_malloc_name();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  int status = 0;
  try {
    pools::topology = std::make_unique<strata::Topology>(strata::Topology::load());
    pools::pool = std::make_unique<strata::NumaPool>(*pools::topology);
    pools::suite_pool = pools::pool.get();
    benchmark::AddCustomContext("pools_system_malloc", system);
    benchmark::AddCustomContext("pools_numa_nodes",
                                std::to_string(pools::topology->numa_nodes().size()));
    pools::register_single_thread_cases(system);
    pools::register_cross_thread_cases(system);
#ifndef STRATA_BENCH_POOLS_GLIBC
    // No allocator in these: once, in the main run, is enough.
    pools::register_rcu_cases();
    pools::register_handle_arena_cases();
    pools::register_pressure_cases();
#endif
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_bench_pools: %s\n", e.what());
    status = 1;
  }
  benchmark::Shutdown();
  pools::pool.reset();
  return status;
}
