// SPDX-License-Identifier: Apache-2.0
// The first pass over a fresh mapping of the array, whose pages are in the page cache but not yet
// in this process's page tables: MappedFile::open, then one scan with bench/limits' read loop,
// without populate (the baseline: the scan's page faults map the pages) and with
// MappedFileOptions::populate (MADV_POPULATE_READ maps them all before the scan starts).
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/read_loop.hpp"
#include "io_settings.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/files/mapped_file.hpp"
#include "suite_dataset.hpp"

namespace strata::bench::io {
namespace {

// Each timed pass maps and scans; the previous pass's mapping is unmapped untimed before it, so
// every pass starts with no page-table entries, while the page cache stays warm. populate() maps
// the whole file, its 2 MiB head and checksum table too: 0.2 % more than the scan reads.
void first_pass(benchmark::State& state, bool populate) {
  set_ratio_label(state, first_pass_baseline, !populate);
  const suite_dataset& data = dataset();
  const MappedFileOptions options = MappedFileOptions().populate(populate);
  MappedFile file;
  const auto map_and_scan = [&] {
    file = MappedFile::open(data.strata_path(), options);
    const std::span<const std::byte> bytes =
        file.bytes(data.values().data_offset, data.values().data_bytes);
    return sum_doubles(
        {reinterpret_cast<const double*>(bytes.data()), bytes.size() / sizeof(double)});
  };
  try {
    if (!sum_matches(state, map_and_scan(), data.values_sum())) return;
    for (auto _ : state) {
      state.PauseTiming();
      file = MappedFile();
      state.ResumeTiming();
      benchmark::DoNotOptimize(map_and_scan());
    }
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(data.values().data_bytes));
}

void first_pass_no_populate(benchmark::State& state) { first_pass(state, false); }
void first_pass_populate(benchmark::State& state) { first_pass(state, true); }

BENCHMARK(first_pass_no_populate)->Apply(apply_run_settings);
BENCHMARK(first_pass_populate)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::io
