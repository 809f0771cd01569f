// SPDX-License-Identifier: Apache-2.0
// Read-side cost: a read section of an RcuPtr (guard, load, read one field) against the same
// read under a std::shared_mutex read lock, on one and two threads, with no writer (the cost a
// reader pays on every access).
#include <shared_mutex>
#include <string>

#include "pools_settings.hpp"
#include "strata/runtime/sync/rcu_ptr.hpp"

namespace strata::bench::pools {
namespace {

constexpr std::size_t kReadsPerIteration = 1000;

struct Config {
  long threshold = 42;
};

EpochDomain& domain() {
  static EpochDomain d;
  return d;
}

RcuPtr<Config>& rcu_config() {
  static RcuPtr<Config> p(domain(), std::make_unique<Config>());
  return p;
}

std::shared_mutex config_mutex;
Config locked_config;

void rcu_reads(benchmark::State& state) {
  RcuPtr<Config>& p = rcu_config();
  long sum = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kReadsPerIteration; ++i) {
      auto view = p.read();
      sum += view->threshold;
      benchmark::DoNotOptimize(sum);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kReadsPerIteration));
}

void shared_mutex_reads(benchmark::State& state) {
  long sum = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kReadsPerIteration; ++i) {
      std::shared_lock lock(config_mutex);
      sum += locked_config.threshold;
      benchmark::DoNotOptimize(sum);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kReadsPerIteration));
}

}  // namespace

void register_rcu_cases() {
  benchmark::AddCustomContext("pools_rcu_fence_free_readers",
                              domain().asymmetric_fences() ? "yes (membarrier)" : "no");
  for (int threads : {1, 2}) {
    add_threaded_case("rcu_read/shared_mutex", "rcu_read/shared_mutex", threads,
                      shared_mutex_reads);
    add_threaded_case("rcu_read/rcu_ptr", "rcu_read/shared_mutex", threads, rcu_reads);
  }
}

}  // namespace strata::bench::pools
