// SPDX-License-Identifier: Apache-2.0
// strata_bench_pools' main(): owns the topology and the pool the pool cases use, notices whether
// jemalloc was preloaded (scripts/bench runs the C-library cases again under LD_PRELOAD of
// Debian's libjemalloc.so.2, which replaces malloc), names those cases accordingly, and runs.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <cstdio>
#include <exception>
#include <memory>

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
  // jemalloc exports mallctl; glibc does not.
  const bool jemalloc_loaded = dlsym(RTLD_DEFAULT, "mallctl") != nullptr;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  int status = 0;
  try {
    pools::topology = std::make_unique<strata::Topology>(strata::Topology::load());
    pools::pool = std::make_unique<strata::NumaPool>(*pools::topology);
    pools::suite_pool = pools::pool.get();
    benchmark::AddCustomContext("pools_system_malloc",
                                jemalloc_loaded ? "jemalloc (LD_PRELOAD)" : "glibc");
    benchmark::AddCustomContext("pools_numa_nodes",
                                std::to_string(pools::topology->numa_nodes().size()));
    pools::register_single_thread_cases(jemalloc_loaded);
    pools::register_cross_thread_cases(jemalloc_loaded);
    pools::register_rcu_cases();
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_bench_pools: %s\n", e.what());
    status = 1;
  }
  benchmark::Shutdown();
  pools::pool.reset();
  return status;
}
