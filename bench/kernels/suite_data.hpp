// SPDX-License-Identifier: Apache-2.0
// The data every case of the kernels suite reads, made once before the first case: 256 MiB of
// normal f64 values (mean 50, sd 12.5) as a mapped `.strata` file and as a resident huge-page
// Array, a 4096 x 8192 stencil grid pair, and the strata Executors at one and at two threads.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "strata/kernels/filter.hpp"
#include "strata/kernels/histogram.hpp"
#include "strata/kernels/stats.hpp"
#include "strata/runtime/memory/array.hpp"
#include "strata/scheduler/combine.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata::bench::kernels {

inline constexpr std::size_t value_bytes = std::size_t{256} << 20;
inline constexpr std::size_t value_count = value_bytes / sizeof(double);
// The stencil grid: ny rows of nx columns, 256 MiB per grid, in and out.
inline constexpr std::size_t grid_rows = 4096;
inline constexpr std::size_t grid_cols = 8192;
inline constexpr double stencil_alpha = 0.2;
// Histogram and threshold set-up: the values' nominal range, 64 bins, count of values above 90.
inline constexpr double hist_low = 0.0;
inline constexpr double hist_high = 100.0;
inline constexpr std::size_t hist_bins = 64;
inline constexpr double count_threshold = 90.0;

inline strata::kernels::CountIf<double> count_above() {
  return {strata::kernels::Compare::greater, count_threshold};
}

class suite_data {
 public:
  // Generates the file in a fresh folder of $TMPDIR (else /tmp), maps and verifies it, removes
  // the file (the mapping keeps it), and copies it into the resident arrays. Throws what
  // generate_dataset, StrataFile and MemoryManager throw.
  suite_data();
  ~suite_data();
  suite_data(const suite_data&) = delete;
  suite_data& operator=(const suite_data&) = delete;

  // The values as StrataFile maps them (page cache, zero-copy).
  std::span<const double> mapped() const noexcept;
  // The same values in placed memory (MemoryManager, huge pages where granted).
  const Array<double>& resident() const noexcept;
  std::span<const double> resident_span() const noexcept;
  // Stencil input (a copy of the values) and output, each grid_rows x grid_cols.
  std::span<const double> grid_in() const noexcept;
  std::span<double> grid_out() const noexcept;
  // An Executor with `threads` threads (1 or 2), made with the data.
  Executor& executor(unsigned threads);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// The run's data; main() makes it before any case runs, so no case times its making.
suite_data& data();

// Statistics, histogram and count over the resident values in one pass.
using analysis_results =
    Combined<strata::kernels::Stats, strata::kernels::Histogram, strata::kernels::CountIf<double>>;
analysis_results analysis_pass(Executor& ex);

}  // namespace strata::bench::kernels
