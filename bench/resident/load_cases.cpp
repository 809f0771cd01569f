// SPDX-License-Identifier: Apache-2.0
// Loading the dataset's first 2 GiB resident (io::load, --memory resident: pread into placed
// 2 MiB pages, each checksum chunk verified on the copy) against the plain ways of moving the same
// bytes: cold (the page cache dropped first) against dd's single-thread 8 MiB reads, warm against
// a two-thread memcpy out of a mapping of the cached file into memory that is already faulted in.
// Plain two-thread loops — memcpy into fresh 2 MiB pages, pread into the faulted memory and into a
// fresh malloc — show where the time of a load goes (the copy, the first touch of the target, the
// check).
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "resident_settings.hpp"
#include "resident_suite.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::bench::resident {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// pread of [offset, offset + out.size()) of the file in pieces; false when a call fails.
bool pread_all(int fd, std::uint64_t offset, std::byte* out, std::uint64_t bytes) {
  std::uint64_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pread(fd, out + done, bytes - done, static_cast<off_t>(offset + done));
    if (n <= 0) return false;
    done += static_cast<std::uint64_t>(n);
  }
  return true;
}

// Each of `threads` threads reads its contiguous share of the load range into `target`, in
// pread_piece_bytes pieces; wall seconds from before the first thread starts to after the last
// joins, or -1 when a read failed.
double timed_parallel_pread(std::byte* target, int threads) {
  resident_suite& s = suite();
  const std::uint64_t bytes = load_bytes;
  std::vector<std::thread> workers;
  std::vector<char> ok(static_cast<std::size_t>(threads), 1);
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const std::uint64_t begin = bytes * static_cast<std::uint64_t>(t) / threads;
      const std::uint64_t end = bytes * static_cast<std::uint64_t>(t + 1) / threads;
      for (std::uint64_t at = begin; at < end && ok[t]; at += pread_piece_bytes) {
        const std::uint64_t n = std::min(pread_piece_bytes, end - at);
        ok[t] = pread_all(s.fd(), s.data_offset() + at, target + at, n) ? 1 : 0;
      }
    });
  }
  for (std::thread& w : workers) w.join();
  const double seconds = seconds_since(start);
  for (char good : ok) {
    if (!good) return -1;
  }
  return seconds;
}

// What every iteration ends with: its time, and for cold cases the share still cached.
void finish(benchmark::State& state, double seconds, double cached_share) {
  if (seconds < 0) {
    state.SkipWithError("a read of the dataset failed");
    return;
  }
  state.SetIterationTime(seconds);
  if (cached_share >= 0) state.counters["cached_at_start"] = cached_share;
}

// Bytes per iteration, set once the iterations are counted.
void count_bytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * load_bytes));
}

// The strata load: a fresh Dataset each time (a Dataset verifies each chunk once, so a reused
// one would skip the check on the second load), opened untimed; io::load timed.
double timed_strata_load() {
  resident_suite& s = suite();
  const io::Dataset dataset = io::Dataset::open(s.path());
  const io::Partition part = dataset.partition(0, s.load_parts());
  io::DataOptions options;
  options.memory = io::DataMemory::resident;
  options.largest_pages = PageSize::huge_2m;
  const auto start = Clock::now();
  io::PartitionData data = io::load(s.runtime(), s.executor(), part, options);
  const double seconds = seconds_since(start);
  benchmark::DoNotOptimize(data.loaded().data());
  return seconds;
}

void cold_pread_8m_1t(benchmark::State& state) {
  label(state, cold_baseline, true);
  std::vector<std::byte> buffer(pread_piece_bytes);
  for (auto _ : state) {
    const double cached = suite().drop_load_range();
    const auto start = Clock::now();
    bool ok = true;
    for (std::uint64_t at = 0; ok && at < load_bytes; at += pread_piece_bytes) {
      ok = pread_all(suite().fd(), suite().data_offset() + at, buffer.data(), pread_piece_bytes);
    }
    finish(state, ok ? seconds_since(start) : -1, cached);
  }
  count_bytes(state);
}

void cold_strata_resident(benchmark::State& state) {
  label(state, cold_baseline, false);
  try {
    for (auto _ : state) {
      const double cached = suite().drop_load_range();
      finish(state, timed_strata_load(), cached);
    }
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
  count_bytes(state);
}

// The plain loop a load would be: two threads pread into a fresh malloc (first touch included).
void cold_pread_2t_malloc(benchmark::State& state) {
  label(state, cold_baseline, false);
  for (auto _ : state) {
    const double cached = suite().drop_load_range();
    const auto start = Clock::now();
    std::unique_ptr<std::byte, decltype(&std::free)> target(
        static_cast<std::byte*>(std::malloc(load_bytes)), &std::free);
    const double read = target ? timed_parallel_pread(target.get(), plain_threads) : -1;
    const double seconds = seconds_since(start);
    finish(state, read < 0 ? -1 : seconds, cached);
  }
  count_bytes(state);
}

// The plain copy both warm baselines time: load_bytes split evenly over plain_threads threads.
void parallel_memcpy(std::byte* to, const std::byte* from) {
  std::vector<std::thread> workers;
  for (int t = 0; t < plain_threads; ++t) {
    workers.emplace_back([=] {
      const std::uint64_t begin = load_bytes * static_cast<std::uint64_t>(t) / plain_threads;
      const std::uint64_t end = load_bytes * static_cast<std::uint64_t>(t + 1) / plain_threads;
      std::memcpy(to + begin, from + begin, end - begin);
    });
  }
  for (std::thread& w : workers) w.join();
}

void warm_memcpy_2t(benchmark::State& state) {
  label(state, warm_baseline, true);
  suite().warm_all();
  const auto* from = reinterpret_cast<const std::byte*>(suite().mapped_4k_values().data());
  // The resident copy's first 2 GiB: faulted in long ago, and the same bytes, so it stays right.
  auto* to = const_cast<std::byte*>(suite().resident().loaded().data());
  for (auto _ : state) {
    const auto start = Clock::now();
    parallel_memcpy(to, from);
    finish(state, seconds_since(start), -1);
  }
  count_bytes(state);
}

void warm_strata_resident(benchmark::State& state) {
  label(state, warm_baseline, false);
  suite().warm_all();
  try {
    for (auto _ : state) finish(state, timed_strata_load(), -1);
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
  count_bytes(state);
}

// The memcpy again, into fresh 2 MiB pages (hugetlb, else transparent) as a load gets: the copy
// and the kernel's zeroing of every new page at its first touch, which no load into new memory
// escapes. The plain loop that shows what the load's own work (reading, checking) costs on top.
void warm_memcpy_2t_fresh(benchmark::State& state) {
  label(state, warm_baseline, false);
  suite().warm_all();
  const auto* from = reinterpret_cast<const std::byte*>(suite().mapped_4k_values().data());
  for (auto _ : state) {
    const auto start = Clock::now();
    void* p = ::mmap(nullptr, load_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (p == MAP_FAILED) {
      p = ::mmap(nullptr, load_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p != MAP_FAILED) ::madvise(p, load_bytes, MADV_HUGEPAGE);
    }
    if (p == MAP_FAILED) {
      state.SkipWithError("no memory for the fresh target");
      break;
    }
    auto* to = static_cast<std::byte*>(p);
    parallel_memcpy(to, from);
    finish(state, seconds_since(start), -1);
    ::munmap(p, load_bytes);
  }
  count_bytes(state);
}

// pread out of the page cache by two threads into memory already faulted in: the copy alone.
void warm_pread_2t_faulted(benchmark::State& state) {
  label(state, warm_baseline, false);
  suite().warm_all();
  auto* to = const_cast<std::byte*>(suite().resident().loaded().data());
  for (auto _ : state) finish(state, timed_parallel_pread(to, plain_threads), -1);
  count_bytes(state);
}

// The same into a fresh malloc: the copy and the first touch (fault, zeroing) of the target.
void warm_pread_2t_malloc(benchmark::State& state) {
  label(state, warm_baseline, false);
  suite().warm_all();
  for (auto _ : state) {
    const auto start = Clock::now();
    std::unique_ptr<std::byte, decltype(&std::free)> target(
        static_cast<std::byte*>(std::malloc(load_bytes)), &std::free);
    const double read = target ? timed_parallel_pread(target.get(), plain_threads) : -1;
    const double seconds = seconds_since(start);
    finish(state, read < 0 ? -1 : seconds, -1);
  }
  count_bytes(state);
}

BENCHMARK(cold_pread_8m_1t)->Name("cold/pread_8m_1t")->Apply(apply_run_settings);
BENCHMARK(cold_strata_resident)->Name("cold/strata_resident")->Apply(apply_run_settings);
BENCHMARK(cold_pread_2t_malloc)->Name("cold/pread_2t_malloc")->Apply(apply_run_settings);
BENCHMARK(warm_memcpy_2t)->Name("warm/memcpy_2t")->Apply(apply_run_settings);
BENCHMARK(warm_memcpy_2t_fresh)->Name("warm/memcpy_2t_fresh")->Apply(apply_run_settings);
BENCHMARK(warm_strata_resident)->Name("warm/strata_resident")->Apply(apply_run_settings);
BENCHMARK(warm_pread_2t_faulted)->Name("warm/pread_2t_faulted")->Apply(apply_run_settings);
BENCHMARK(warm_pread_2t_malloc)->Name("warm/pread_2t_malloc")->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::resident
