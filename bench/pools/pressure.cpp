// SPDX-License-Identifier: Apache-2.0
// The memory-pressure monitor's costs and effect: one reading (MemAvailable, cgroup files, PSI)
// against the staleness check an allocation pays, and the resident memory of a job that frees
// 1 GiB of pooled objects, before and after the monitor acts on (simulated) pressure.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <thread>
#include <vector>

#include "allocators.hpp"
#include "pools_settings.hpp"
#include "strata/runtime/machine/memory_availability.hpp"
#include "strata/runtime/memory/memory_pressure.hpp"

namespace strata::bench::pools {
namespace {

double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE))) /
         (1 << 20);
}

void reading(benchmark::State& state) {
  for (auto _ : state) {
    auto a = read_memory_availability();
    benchmark::DoNotOptimize(a);
  }
}

void stale_check(benchmark::State& state) {
  MemoryPressureOptions options;
  options.period = std::chrono::hours(1);
  MemoryPressureMonitor monitor(options);
  monitor.check();
  for (auto _ : state) monitor.check_if_stale();
}

// A job thread allocates and touches 1 GiB (half 4 KiB objects, half 128 KiB), frees it all and
// stays alive; the monitor, told every reading is pressure (the machine is not really short of
// memory), acts from another thread. RSS is read before the frees, after them, and after the
// monitor acted.
void rss_after_free(benchmark::State& state) {
  constexpr std::size_t kHalf = std::size_t{512} << 20;
  for (auto _ : state) {
    NumaPool pool(suite_pool->topology());
    MemoryPressureOptions options;
    options.thresholds.moderate_available_fraction = 2.0;  // simulated: always moderate
    MemoryPressureMonitor monitor(options);
    auto watch = monitor.watch(pool);
    std::promise<void> freed, measured;
    double full = 0;
    std::thread job([&] {
      std::vector<void*> blocks;
      for (std::size_t bytes : {std::size_t{4096}, std::size_t{128 * 1024}}) {
        for (std::size_t i = 0; i < kHalf / bytes; ++i) {
          blocks.push_back(pool.allocate(bytes));
          std::memset(blocks.back(), 1, bytes);
        }
      }
      full = rss_mib();
      for (void* p : blocks) pool.deallocate(p);
      freed.set_value();
      measured.get_future().wait();
    });
    freed.get_future().wait();
    const double before = rss_mib();
    const auto t0 = std::chrono::steady_clock::now();
    monitor.check();
    const auto t1 = std::chrono::steady_clock::now();
    const double after = rss_mib();
    measured.set_value();
    job.join();
    state.counters["rss_allocated_mib"] = full;
    state.counters["rss_freed_mib"] = before;
    state.counters["rss_after_monitor_mib"] = after;
    state.counters["monitor_act_ms"] = std::chrono::duration<double, std::milli>(t1 - t0).count();
  }
}

}  // namespace

void register_pressure_cases() {
  add_case("pressure/reading", "pressure/reading", reading);
  add_case("pressure/check_if_stale", "pressure/reading", stale_check);
  benchmark::RegisterBenchmark("pressure/rss_after_free_1GiB", rss_after_free)
      ->Iterations(1)
      ->Repetitions(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace strata::bench::pools
