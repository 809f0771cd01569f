// SPDX-License-Identifier: Apache-2.0
// strata_bench_memory's main(): loads the topology once, reserves the 2 MiB hugetlb pages the
// huge-page cases need for the length of the run (put back on every way out), records the
// machine's page settings in the report's context, then runs the cases.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>
#include <string>

#include "huge_page_reservation.hpp"
#include "memory_settings.hpp"
#include "strata/runtime/machine/huge_pages.hpp"
#include "strata/runtime/machine/topology.hpp"

namespace strata::bench::memory {

const Topology& suite_topology() {
  static const Topology topology = Topology::load();
  return topology;
}

namespace {

void add_context(const huge_page_reservation& reservation) {
  benchmark::AddCustomContext("memory_huge_2m_pool", reservation.outcome());
  benchmark::AddCustomContext("memory_thp_mode",
                              std::string(to_string(transparent_huge_page_mode())));
  benchmark::AddCustomContext("memory_numa_nodes",
                              std::to_string(suite_topology().numa_nodes().size()));
  benchmark::AddCustomContext("memory_fault_region_bytes", std::to_string(fault_region_bytes));
  benchmark::AddCustomContext("memory_read_region_bytes", std::to_string(read_region_bytes));
  benchmark::AddCustomContext("memory_placement_region_bytes",
                              std::to_string(placement_region_bytes));
}

}  // namespace
}  // namespace strata::bench::memory

int main(int argc, char** argv) {
  namespace memory = strata::bench::memory;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  int status = 0;
  try {
    memory::suite_topology();
    // Destroyed before the catch below runs, so the pool is put back on an exception too.
    const memory::huge_page_reservation reservation(memory::huge_2m_pages_wanted);
    memory::add_context(reservation);
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_bench_memory: %s\n", e.what());
    status = 1;
  }
  benchmark::Shutdown();
  return status;
}
