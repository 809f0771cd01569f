// SPDX-License-Identifier: Apache-2.0
// The dataset every case of the io suite reads: 1 GiB of f64 "values" as a `.strata` file and its
// HDF5 export, made once per run and in the page cache from then on. Both are unlinked once open,
// so no run leaves 2 GiB behind; the cases reach them through /proc/self/fd and one open dataset.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "strata/io/format/strata_file.hpp"
#include "strata/io/hdf5/hdf5.hpp"

namespace strata::bench::io {

// A read-only descriptor of a file whose name is removed as soon as it is open: the kernel keeps
// the file, and its page cache, until the descriptor closes.
class unlinked_file {
 public:
  unlinked_file() = default;
  // Opens `path` and removes the name, even when the open fails (std::system_error naming it).
  explicit unlinked_file(const std::string& path);
  unlinked_file(unlinked_file&& other) noexcept;
  unlinked_file& operator=(unlinked_file&& other) noexcept;
  unlinked_file(const unlinked_file&) = delete;
  unlinked_file& operator=(const unlinked_file&) = delete;
  ~unlinked_file();

  int fd() const noexcept { return fd_; }
  // "/proc/self/fd/<fd>": opening it opens this very file, name or no name.
  std::string proc_path() const;

 private:
  int fd_ = -1;
};

class suite_dataset {
 public:
  // Generates the files in a fresh folder of $TMPDIR (else /tmp), opens and unlinks them, then maps
  // "values" through StrataFile::bytes, which verifies every chunk once, here and untimed. Throws
  // what generate_dataset, export_strata and StrataFile throw, or std::system_error.
  suite_dataset();

  // For MappedFile::open: the `.strata` file's /proc/self/fd path.
  const std::string& strata_path() const noexcept { return strata_path_; }
  // The exported copy of the array, "/values" of the HDF5 file, opened before its name went:
  // HDF5 resolves a file's real path on open, which a /proc/self/fd link to a deleted file lacks.
  const strata::io::Hdf5Dataset& hdf5_values() const noexcept { return *hdf5_values_; }
  // Where the array's bytes sit in the `.strata` file.
  const strata::io::ArrayInfo& values() const noexcept { return values_; }
  // The array as StrataFile hands it out: mapped, zero-copy, verified.
  std::span<const double> values_view() const noexcept { return values_view_; }
  // Copies bytes [offset, offset + out.size()) of the array out of the `.strata` file with
  // pread(), as many calls as it takes; false when a call fails or the file ends first.
  bool pread_values(std::uint64_t offset, std::span<std::byte> out) const noexcept;

  // The sum bench/limits' read loop finds over the whole array: every sequential pass must find it
  // too (up to the rounding of its order of additions), which proves it read the right bytes.
  double values_sum() const noexcept { return values_sum_; }
  // random_reads element indices, drawn once from random_seed: both random cases read these.
  const std::vector<std::uint64_t>& random_elements() const noexcept { return random_elements_; }
  // The sum of those elements added in that order: both random cases must find it exactly.
  double random_sum() const noexcept { return random_sum_; }

 private:
  unlinked_file strata_;
  std::string strata_path_;
  std::optional<strata::io::Hdf5Dataset> hdf5_values_;
  std::optional<strata::io::StrataFile> file_;
  strata::io::ArrayInfo values_;
  std::span<const double> values_view_;
  double values_sum_ = 0;
  std::vector<std::uint64_t> random_elements_;
  double random_sum_ = 0;
};

// The run's dataset, made on first use: main() makes it before any case runs, so its cost is in
// no case's time and a failure stops the run with a clear message.
const suite_dataset& dataset();

// Whether a case's untimed warm-up pass found `expected` (to 1e-9, for sums added in another
// order); when not, calls state.SkipWithError, so a case reading the wrong bytes reports no speed.
bool sum_matches(benchmark::State& state, std::optional<double> sum, double expected);

// The untimed warm-up pass (which proves the values right against `expected`), then the timed
// passes; `units_per_pass` is what one pass processes, reported as bytes or as items (reads).
enum class PassUnits { bytes, items };
template <class Pass>
void time_passes(benchmark::State& state, double expected, PassUnits units,
                 std::int64_t units_per_pass, Pass pass) {
  if (!sum_matches(state, pass(), expected)) return;
  for (auto _ : state) {
    const std::optional<double> sum = pass();
    if (!sum) {
      state.SkipWithError("a read of the dataset failed");
      break;
    }
    benchmark::DoNotOptimize(*sum);
  }
  if (units == PassUnits::bytes) {
    state.SetBytesProcessed(state.iterations() * units_per_pass);
  } else {
    state.SetItemsProcessed(state.iterations() * units_per_pass);
  }
}

}  // namespace strata::bench::io
