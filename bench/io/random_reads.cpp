// SPDX-License-Identifier: Apache-2.0
// Random 8-byte reads of the array in the page cache: one pread() per element (the baseline)
// against one load from the `.strata` file's mapped view, at the same elements in the same order
// (suite_dataset's random_elements). Reported in reads per second.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <numeric>
#include <optional>
#include <span>
#include <vector>

#include "io_settings.hpp"
#include "suite_dataset.hpp"

namespace strata::bench::io {
namespace {

// Every case here: warm-up pass checked against the expected sum, then timed passes.
template <class Pass>
void time_passes(benchmark::State& state, Pass pass) {
  io::time_passes(state, dataset().random_sum(), PassUnits::items, static_cast<std::int64_t>(dataset().random_elements().size()), pass);
}

void pread_random_8b(benchmark::State& state) {
  set_ratio_label(state, random_baseline, true);
  time_passes(state, []() -> std::optional<double> {
    double sum = 0;
    for (const std::uint64_t e : dataset().random_elements()) {
      double value = 0;
      if (!dataset().pread_values(e * sizeof(double),
                                  std::as_writable_bytes(std::span(&value, 1)))) {
        return std::nullopt;
      }
      sum += value;
    }
    return sum;
  });
}

// The loads are independent (only the adds form a chain), so the core overlaps their cache and
// TLB misses, as it would in any loop that gathers from a mapped array.
void mapped_random_8b(benchmark::State& state) {
  set_ratio_label(state, random_baseline, false);
  const std::span<const double> values = dataset().values_view();
  time_passes(state, [values] {
    const std::vector<std::uint64_t>& elements = dataset().random_elements();
    return std::optional<double>(
        std::accumulate(elements.begin(), elements.end(), 0.0,
                        [values](double sum, std::uint64_t e) { return sum + values[e]; }));
  });
}

BENCHMARK(pread_random_8b)->Apply(apply_run_settings);
BENCHMARK(mapped_random_8b)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::io
