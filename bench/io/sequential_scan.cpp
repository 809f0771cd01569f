// SPDX-License-Identifier: Apache-2.0
// A sequential pass over the whole 1 GiB array in the page cache, summed with bench/limits' read
// loop, three ways: read() into a reused 1 MiB buffer (the baseline), the `.strata` file's mapped
// view summed in place, and HDF5 read_rows of the exported copy into the same kind of buffer.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <vector>

#include "common/read_loop.hpp"
#include "io_settings.hpp"
#include "suite_dataset.hpp"

namespace strata::bench::io {
namespace {

// Reads the array piece by piece into `buffer` with `read_piece(offset, bytes)` and sums each
// piece; nullopt when a read fails. The buffer stays in L2, so the copy into it is what costs.
template <class ReadPiece>
std::optional<double> sum_by_pieces(std::span<double> buffer, ReadPiece read_piece) {
  const std::uint64_t total = dataset().values().data_bytes;
  double sum = 0;
  for (std::uint64_t offset = 0; offset < total; offset += buffer.size_bytes()) {
    const std::span<double> piece =
        buffer.first(std::min<std::uint64_t>(buffer.size_bytes(), total - offset) / sizeof(double));
    if (!read_piece(offset, std::as_writable_bytes(piece))) return std::nullopt;
    sum += sum_doubles(piece);
  }
  return sum;
}

// Every case here: warm-up pass checked against the expected sum, then timed passes.
template <class Pass>
void time_passes(benchmark::State& state, Pass pass) {
  io::time_passes(state, dataset().values_sum(), PassUnits::bytes, static_cast<std::int64_t>(dataset().values().data_bytes), pass);
}

void read_buffer(benchmark::State& state) {
  set_ratio_label(state, read_baseline, true);
  std::vector<double> buffer(read_piece_bytes / sizeof(double));
  time_passes(state, [&buffer] {
    return sum_by_pieces(buffer, [](std::uint64_t offset, std::span<std::byte> out) {
      return dataset().pread_values(offset, out);
    });
  });
}

// No copy and no system call: the view was mapped and verified once when the dataset was made,
// and its pages have been in this process's page tables since.
void mapped_scan(benchmark::State& state) {
  set_ratio_label(state, read_baseline, false);
  const std::span<const double> values = dataset().values_view();
  time_passes(state, [values] { return std::optional<double>(sum_doubles(values)); });
}

// The same pieces as read_buffer through the HDF5 library: what reading the array costs a user
// who kept it in HDF5 (contiguous, uncompressed, opened once when the dataset was made).
void hdf5_read_rows(benchmark::State& state) {
  set_ratio_label(state, read_baseline, false);
  std::vector<double> buffer(read_piece_bytes / sizeof(double));
  try {
    const strata::io::Hdf5Dataset& h5 = dataset().hdf5_values();
    time_passes(state, [&] {
      return sum_by_pieces(buffer, [&h5](std::uint64_t offset, std::span<std::byte> out) {
        h5.read_rows(offset / h5.row_bytes(), out.size() / h5.row_bytes(), out);
        return true;  // read_rows throws on failure
      });
    });
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

BENCHMARK(read_buffer)->Apply(apply_run_settings);
BENCHMARK(mapped_scan)->Apply(apply_run_settings);
BENCHMARK(hdf5_read_rows)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::io
