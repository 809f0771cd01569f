// SPDX-License-Identifier: Apache-2.0
// strata_bench_io's main(): makes the dataset every case reads (1 GiB `.strata` file and its HDF5
// copy, unlinked once open) before any case runs, so no case times its making and a failure stops
// the run with a clear message; records the suite's sizes in the report's context.
#include <benchmark/benchmark.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>

#include "io_settings.hpp"
#include "suite_dataset.hpp"

namespace strata::bench::io {
namespace {

// How the kernel maps the dataset's view, from /proc/self/smaps: file pages in 2 MiB page-table
// entries (FilePmdMapped; large page-cache folios, as ext4 and xfs give on recent kernels) make
// first-touch faults 512 times fewer and the TLB reach 512 times larger than 4 KiB entries, which
// shapes the first_pass and mapped_random_8b ratios more than anything strata does.
std::string mapping_page_entries(const void* addr) {
  const auto where = reinterpret_cast<std::uintptr_t>(addr);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  std::uint64_t rss_kib = 0;
  std::uint64_t pmd_kib = 0;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " ", &begin, &end) == 2) {
      if (inside) break;  // the next mapping's header: ours is complete
      inside = begin <= where && where < end;
    } else if (inside) {
      std::sscanf(line.c_str(), "Rss: %" SCNu64, &rss_kib);
      std::sscanf(line.c_str(), "FilePmdMapped: %" SCNu64, &pmd_kib);
    }
  }
  if (rss_kib == 0) return "unknown (no resident mapping found in /proc/self/smaps)";
  return std::to_string(pmd_kib >> 10) + " of " + std::to_string(rss_kib >> 10) +
         " MiB resident in 2 MiB entries (FilePmdMapped)";
}

void add_context() {
  const char* dir = std::getenv("TMPDIR");
  benchmark::AddCustomContext("io_dataset_dir", (dir != nullptr && *dir != '\0') ? dir : "/tmp");
  benchmark::AddCustomContext("io_dataset_bytes", std::to_string(dataset().values().data_bytes));
  benchmark::AddCustomContext("io_strata_chunk_bytes",
                              std::to_string(dataset().values().chunk_bytes));
  benchmark::AddCustomContext("io_read_piece_bytes", std::to_string(read_piece_bytes));
  benchmark::AddCustomContext("io_random_reads", std::to_string(random_reads));
  benchmark::AddCustomContext("io_mapped_view_pages",
                              mapping_page_entries(dataset().values_view().data()));
  const strata::io::Hdf5Storage& h5 = dataset().hdf5_values().storage();
  benchmark::AddCustomContext(
      "io_hdf5_layout",
      h5.layout + ", " + h5.hdf5_type + (h5.filters.empty() ? ", no filter" : ", filtered"));
}

}  // namespace
}  // namespace strata::bench::io

int main(int argc, char** argv) {
  namespace io = strata::bench::io;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  int status = 0;
  try {
    io::dataset();
    io::add_context();
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_bench_io: %s\n", e.what());
    status = 1;
  }
  benchmark::Shutdown();
  return status;
}
