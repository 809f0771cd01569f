// SPDX-License-Identifier: Apache-2.0
// The plain OpenMP histogram limit: 64 uniform bins over 512 MiB of roughly normal f64 values
// (mean 50, sd 12.5, the kernels suite's distribution), each thread counting its share into its
// own tallies, one timed region at one thread and at all threads. A scheduler's histogram is held
// to this, and its 1 → all threads gain to this one's.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "common/openmp_limits.hpp"
#include "limits_settings.hpp"

namespace strata::bench::limits {
namespace {

constexpr std::size_t histogram_bytes = std::size_t{512} << 20;
constexpr std::size_t histogram_values = histogram_bytes / sizeof(double);
constexpr HistogramBins histogram_bins{.low = 0.0, .high = 100.0, .bins = 64};

// splitmix64: a fast, well-mixed stream of 64-bit values from a counter, so every thread can make
// its share of the values independently and the data are the same on every run.
std::uint64_t mix(std::uint64_t z) noexcept {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The values, made once: the sum of four uniforms (Irwin-Hall) scaled to mean 50 and sd 12.5, close
// enough to normal for a histogram's branch and bin pattern, and far cheaper than a normal draw.
class histogram_values_data {
 public:
  histogram_values_data() {
    void* p =
        mmap(nullptr, histogram_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("limits: cannot map 512 MiB for the histogram");
    madvise(p, histogram_bytes, MADV_HUGEPAGE);  // as the read arrays: DRAM's limit, not the TLB's
    values_ = static_cast<double*>(p);
    const auto n = static_cast<std::int64_t>(histogram_values);
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const std::uint64_t r = mix(static_cast<std::uint64_t>(i));
      double sum = 0.0;  // four 16-bit uniforms in [0, 1): mean 2, variance 1/3
      for (int k = 0; k < 4; ++k) sum += static_cast<double>((r >> (16 * k)) & 0xFFFF) / 65536.0;
      values_[i] = 50.0 + 12.5 * (sum - 2.0) * std::sqrt(3.0);
    }
  }
  ~histogram_values_data() { munmap(values_, histogram_bytes); }
  histogram_values_data(const histogram_values_data&) = delete;
  histogram_values_data& operator=(const histogram_values_data&) = delete;

  std::span<const double> values() const { return {values_, histogram_values}; }

 private:
  double* values_ = nullptr;
};

const histogram_values_data& histogram_data() {
  static const histogram_values_data made;
  return made;
}

[[maybe_unused]] const bool context_added = [] {
  benchmark::AddCustomContext("limits_histogram_bytes", std::to_string(histogram_bytes));
  benchmark::AddCustomContext("limits_histogram_bins", std::to_string(histogram_bins.bins));
  return true;
}();

void histogram_limit(benchmark::State& state) {
  histogram_limit_case(state, histogram_data().values(), histogram_bins);
  set_ratio_label(state, false);
}
BENCHMARK(histogram_limit)->Apply(apply_timed_region_settings);

}  // namespace
}  // namespace strata::bench::limits
