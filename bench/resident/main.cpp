// SPDX-License-Identifier: Apache-2.0
// strata_bench_resident's main(): reserves the 2 MiB pages the resident copies need (put back on
// every way out, signals included), makes the dataset and its copies before any case runs, and
// records in the report's context what the kernel gave each mapping.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "memory/huge_page_reservation.hpp"
#include "resident_settings.hpp"
#include "resident_suite.hpp"
#include "strata/runtime/machine/mapping_pages.hpp"

namespace strata::bench::resident {
namespace {

std::uint64_t dataset_gib() {
  const char* text = std::getenv("STRATA_BENCH_RESIDENT_GIB");
  if (text == nullptr || *text == '\0') return default_dataset_gib;
  char* end = nullptr;
  const unsigned long long gib = std::strtoull(text, &end, 10);
  if (*end != '\0' || gib < 2 || gib > 1024) {
    throw std::invalid_argument("STRATA_BENCH_RESIDENT_GIB is a whole number of GiB from 2, not '" +
                                std::string(text) + "'");
  }
  return gib;
}

void add_context(const std::string& reservation) {
  resident_suite& s = suite();
  benchmark::AddCustomContext("resident_dataset_bytes", std::to_string(s.dataset_bytes()));
  benchmark::AddCustomContext("resident_load_bytes", std::to_string(load_bytes));
  benchmark::AddCustomContext("resident_random_reads", std::to_string(random_reads));
  benchmark::AddCustomContext("resident_huge_pages", reservation);
  benchmark::AddCustomContext("resident_copy", s.resident().report().summary());
  benchmark::AddCustomContext("resident_mapped", s.mapped().report().summary());
  const std::span<const double> plain = s.mapped_4k_values();
  benchmark::AddCustomContext("resident_mapped_4k",
                              mapping_pages(plain.data(), plain.size_bytes()).kind());
}

}  // namespace
}  // namespace strata::bench::resident

int main(int argc, char** argv) {
  namespace r = strata::bench::resident;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  int status = 0;
  try {
    const std::uint64_t gib = r::dataset_gib();
    // The whole resident copy and one loaded 2 GiB at a time, in 2 MiB pages, and a margin.
    const std::uint64_t pages = (gib << 9) + (r::load_bytes >> 21) + 64;
    const strata::bench::memory::huge_page_reservation reservation(pages);
    // The copies give their pages back before the reservation puts the pool back, also on error.
    struct release {
      ~release() { r::release_suite(); }
    } const release_first;
    r::make_suite(gib << 30);
    r::add_context(reservation.outcome());
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_bench_resident: %s\n", e.what());
    status = 1;
  }
  benchmark::Shutdown();
  return status;
}
