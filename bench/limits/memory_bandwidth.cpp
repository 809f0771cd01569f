// SPDX-License-Identifier: Apache-2.0
// Memory bandwidth limits: a vectorised read loop (the suite's baseline), copy (memcpy) and
// STREAM triad over arrays far larger than the last-level cache, at one thread and at all threads;
// and the independent read limit: the same read as one timed OpenMP region (openmp_limits.hpp).
// Kernels in later suites are judged by how close they come to these numbers.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/openmp_limits.hpp"
#include "common/read_loop.hpp"
#include "common/thread_slice.hpp"
#include "limits_settings.hpp"

namespace strata::bench::limits {
namespace {

// 512 MiB per array, three arrays: each is several times any last-level cache we expect on a
// cluster node (this machine's is 105 MiB), so every pass streams from DRAM, and the suite
// still uses only 1.5 GiB. The read loop reads the first two arrays as one 1 GiB span.
constexpr std::size_t array_bytes = std::size_t{512} << 20;
constexpr std::size_t array_doubles = array_bytes / sizeof(double);
constexpr double triad_scalar = 3.0;

// The three STREAM arrays in one anonymous mapping, created on first use and kept for the run.
class stream_arrays {
 public:
  stream_arrays() {
    void* p =
        mmap(nullptr, 3 * array_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("limits: cannot map 1.5 GiB for the arrays");
    // Transparent huge pages where the kernel grants them: the limit we want is DRAM's, not
    // the page walker's. Failure only means 4 KiB pages, so it is not an error.
    madvise(p, 3 * array_bytes, MADV_HUGEPAGE);
    base_ = static_cast<double*>(p);
    first_touch();
  }
  ~stream_arrays() { munmap(base_, 3 * array_bytes); }
  stream_arrays(const stream_arrays&) = delete;
  stream_arrays& operator=(const stream_arrays&) = delete;

  std::span<double> a() { return {base_, array_doubles}; }
  std::span<double> b() { return {base_ + array_doubles, array_doubles}; }
  std::span<double> c() { return {base_ + 2 * array_doubles, array_doubles}; }
  std::span<const double> read_span() const { return {base_, 2 * array_doubles}; }

 private:
  // Each of all-threads' slices is first written by its own thread, as the all-threads cases
  // later read them, so that on a multi-node machine the pages spread over the nodes the way
  // the threads do (the threads are not pinned; placement proper is the memory suite's subject).
  void first_touch() {
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t) {
      workers.emplace_back([this, t, threads] {
        for (std::span<double> arr : {a(), b(), c()}) {
          const std::size_t begin = arr.size() * t / threads;
          const std::size_t end = arr.size() * (t + 1) / threads;
          for (std::size_t i = begin; i < end; ++i) arr[i] = 1.0;
        }
      });
    }
    for (auto& w : workers) w.join();
  }

  double* base_ = nullptr;
};

[[maybe_unused]] const bool context_added = [] {
  benchmark::AddCustomContext("limits_array_bytes", std::to_string(array_bytes));
  benchmark::AddCustomContext("limits_all_threads",
                              std::to_string(std::max(1u, std::thread::hardware_concurrency())));
  return true;
}();

stream_arrays& arrays() {
  static stream_arrays instance;  // thread-safe initialisation: the benchmark threads race here
  return instance;
}

[[gnu::noinline]] void triad_loop(std::span<double> a, std::span<const double> b,
                                  std::span<const double> c, double scalar) noexcept {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = b[i] + scalar * c[i];
}

void read_sum(benchmark::State& state) {
  const auto x = thread_slice(arrays().read_span(), state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sum_doubles(x));  // bench/common/read_loop.hpp
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(x.size_bytes()));
  set_ratio_label(state, state.threads() == 1);
}

// Copy is memcpy, the baseline docs/design.md names: glibc picks the best copy for the machine
// (non-temporal stores for copies this large). STREAM counts bytes read plus bytes written: 2 per
// byte copied.
void copy(benchmark::State& state) {
  const auto src = thread_slice(std::span<const double>(arrays().a()), state);
  const auto dst = thread_slice(arrays().b(), state);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size_bytes());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * static_cast<std::int64_t>(src.size_bytes()));
  set_ratio_label(state, false);
}

// STREAM triad a = b + s*c: two streams read, one written, counted as 3 per element as STREAM
// does (the write-allocate read of `a` that ordinary stores cause is not counted).
void triad(benchmark::State& state) {
  const auto a = thread_slice(arrays().a(), state);
  const auto b = thread_slice(std::span<const double>(arrays().b()), state);
  const auto c = thread_slice(std::span<const double>(arrays().c()), state);
  for (auto _ : state) {
    triad_loop(a, b, c, triad_scalar);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 3 * static_cast<std::int64_t>(a.size_bytes()));
  set_ratio_label(state, false);
}

// The independent read limit: one OpenMP region over the same 1 GiB, timed as a whole (bytes ÷ the
// region's wall time), so it does not depend on how Google Benchmark adds up its threads' rates.
void read_limit(benchmark::State& state) {
  read_limit_case(state, arrays().read_span());
  set_ratio_label(state, false);
}

// One thread, then every hardware thread (skipped on a one-CPU machine, where it is the same).
void one_and_all_threads(benchmark::internal::Benchmark* b) {
  apply_run_settings(b);
  b->Threads(1);
  const int all = static_cast<int>(std::thread::hardware_concurrency());
  if (all > 1) b->Threads(all);
}

BENCHMARK(read_sum)->Apply(one_and_all_threads);
BENCHMARK(copy)->Apply(one_and_all_threads);
BENCHMARK(triad)->Apply(one_and_all_threads);
BENCHMARK(read_limit)->Apply(apply_timed_region_settings);

}  // namespace
}  // namespace strata::bench::limits
