// SPDX-License-Identifier: Apache-2.0
// strata_bench_node_shared: the memory the ranks of one node use for the same rows of a dataset,
// held as one resident copy per rank (the baseline) or as one node-shared copy. Run under
// `mpirun -np 4` once per mode (scripts/bench does); every rank loads the whole dataset, then
// reports how much its proportional set size (PSS, /proc/self/smaps_rollup) grew, hugetlb pages
// counted apart (the kernel leaves them out of PSS): private ones whole, shared ones divided by the
// ranks that map them. Rank 0 prints a line per mode (the sum over ranks) and their ratio.
//   mpirun --oversubscribe -np 4 strata_bench_node_shared
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/io/dataset/dataset.hpp"
#include "strata/io/dataset/dataset_memory.hpp"
#include "strata/io/dataset/synthetic.hpp"
#include "strata/runtime/cluster/runtime.hpp"
#include "strata/scheduler/executor.hpp"

namespace {

// smaps_rollup's totals for this process, in bytes.
struct Footprint {
  std::uint64_t pss = 0;
  std::uint64_t private_hugetlb = 0;
  std::uint64_t shared_hugetlb = 0;
};

Footprint read_footprint() {
  Footprint f;
  std::ifstream rollup("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(rollup, line)) {
    std::uint64_t kib = 0;
    if (std::sscanf(line.c_str(), "Pss: %" SCNu64, &kib) == 1) f.pss = kib << 10;
    if (std::sscanf(line.c_str(), "Private_Hugetlb: %" SCNu64, &kib) == 1)
      f.private_hugetlb = kib << 10;
    if (std::sscanf(line.c_str(), "Shared_Hugetlb: %" SCNu64, &kib) == 1)
      f.shared_hugetlb = kib << 10;
  }
  return f;
}

// This process's share of the node's memory: PSS, its own hugetlb pages, and its share of the
// hugetlb pages it maps with `sharers` ranks.
double share_bytes(const Footprint& f, int sharers) {
  return static_cast<double>(f.pss) + static_cast<double>(f.private_hugetlb) +
         static_cast<double>(f.shared_hugetlb) / sharers;
}

// Loads `rows` in `mode` on every rank and returns the sum over ranks of what each rank's share of
// the node's memory grew by; rank 0 prints the line.
double measure(strata::Runtime& rt, strata::Executor& ex, const strata::io::Partition& rows,
               strata::io::DataMemory mode) {
  rt.mpi().barrier();
  const int sharers = rt.mpi().local_size();
  const double before = share_bytes(read_footprint(), sharers);
  strata::io::DataOptions options;
  options.memory = mode;
  options.largest_pages = strata::PageSize::huge_2m;
  const strata::io::PartitionData data = strata::io::load(rt, ex, rows, options);
  rt.mpi().barrier();  // every rank loaded and attached: the shares are final
  const double grew = share_bytes(read_footprint(), sharers) - before;
  double total = 0;
  for (double g : rt.mpi().allgather(grew)) total += g;
  if (rt.rank() == 0) {
    std::printf("node_memory/%s ranks=%d dataset_bytes=%" PRIu64
                " node_bytes=%.0f copies=%.2f pages=\"%s\"\n",
                std::string(strata::io::to_string(mode)).c_str(), rt.size(), rows.size_bytes(),
                total, total / static_cast<double>(rows.size_bytes()), data.report().pages.c_str());
    std::fflush(stdout);
  }
  rt.mpi().barrier();  // every rank measured before any lets its copy go
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    strata::Runtime rt(argc, argv);
    strata::Executor ex(rt);
    std::uint64_t mib = 1024;
    if (const char* text = std::getenv("STRATA_BENCH_NODE_SHARED_MIB"); text != nullptr && *text) {
      mib = std::strtoull(text, nullptr, 10);
    }
    // Rank 0 writes the dataset in a fresh folder of $TMPDIR (else /tmp); the name goes once
    // every rank has it open.
    std::string folder;
    if (rt.rank() == 0) {
      const char* dir = std::getenv("TMPDIR");
      folder = std::string((dir != nullptr && *dir != '\0') ? dir : "/tmp") +
               "/strata_bench_node_shared.XXXXXX";
      if (::mkdtemp(folder.data()) == nullptr) throw std::runtime_error("cannot create " + folder);
      try {
        strata::io::generate_dataset(folder + "/values.strata",
                                     {.bytes = mib << 20, .dtype = strata::DType::f64});
      } catch (...) {
        std::filesystem::remove_all(folder);
        throw;
      }
    }
    const std::vector<std::byte> name =
        rt.mpi().broadcast_bytes(std::as_bytes(std::span(folder)), 0);
    folder.assign(reinterpret_cast<const char*>(name.data()), name.size());
    std::optional<strata::io::Dataset> dataset;
    std::string failure;
    try {
      dataset.emplace(strata::io::Dataset::open(folder + "/values.strata"));
    } catch (const std::exception& e) {
      failure = e.what();
    }
    rt.mpi().barrier();
    if (rt.rank() == 0) std::filesystem::remove_all(folder);
    if (!dataset) throw std::runtime_error(failure);
    const strata::io::Partition rows = dataset->partition(0, 1);  // every rank: all rows
    const double copies = measure(rt, ex, rows, strata::io::DataMemory::resident);
    const double shared = measure(rt, ex, rows, strata::io::DataMemory::node_shared);
    if (rt.rank() == 0) {
      std::printf(
          "node_memory ratio: per-rank copies use %.2fx the memory of the node-shared copy\n",
          copies / shared);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_bench_node_shared: %s\n", e.what());
    return 1;
  }
}
