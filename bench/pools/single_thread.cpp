// SPDX-License-Identifier: Apache-2.0
// One thread: alloc/free pairs at 16 B to 4 KiB, and batches (1,000 allocations, then their
// 1,000 frees), for each allocator; mimalloc at the same size is every case's peer (tbbmalloc in
// strata_bench_pools_glibc, which has no mimalloc).
#include <array>
#include <string>
#include <vector>

#include "allocators.hpp"
#include "pools_settings.hpp"

namespace strata::bench::pools {
namespace {

constexpr std::size_t kPairsPerIteration = 1000;
constexpr std::size_t kBatch = 1000;

template <class A>
void pairs(benchmark::State& state, std::size_t bytes) {
  for (auto _ : state) {
    for (std::size_t i = 0; i < kPairsPerIteration; ++i) {
      void* p = A::allocate(bytes);
      benchmark::DoNotOptimize(p);
      A::deallocate(p, bytes);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kPairsPerIteration));
}

template <class A>
void batch(benchmark::State& state, std::size_t bytes) {
  std::vector<void*> blocks(kBatch);
  for (auto _ : state) {
    for (auto& p : blocks) {
      p = A::allocate(bytes);
      benchmark::DoNotOptimize(p);
    }
    for (void* p : blocks) A::deallocate(p, bytes);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}

template <class A>
void add_size(const std::string& who, std::size_t bytes) {
  const std::string size = std::to_string(bytes);
  add_case("pair/" + who + "/" + size, std::string("pair/") + single_thread_peer + "/" + size,
           [bytes](benchmark::State& s) { pairs<A>(s, bytes); });
}

template <class A>
void add_batch(const std::string& who, std::size_t bytes) {
  const std::string size = std::to_string(bytes);
  add_case("batch1000/" + who + "/" + size,
           std::string("batch1000/") + single_thread_peer + "/" + size,
           [bytes](benchmark::State& s) { batch<A>(s, bytes); });
}

}  // namespace

void register_single_thread_cases(const std::string& system) {
  // malloc is a case of its own only when it is not mimalloc's (then it is that case again).
  const bool own_system = system != "mimalloc";
  for (std::size_t bytes : {16, 64, 256, 1024, 4096}) {
#ifndef STRATA_BENCH_POOLS_GLIBC
    add_size<mimalloc>("mimalloc", bytes);
#endif
    add_size<strata_pool>("strata_pool", bytes);
    if (own_system) add_size<system_malloc>(system, bytes);
    add_size<tbbmalloc>("tbbmalloc", bytes);
  }
  for (std::size_t bytes : {64, 1024}) {
#ifndef STRATA_BENCH_POOLS_GLIBC
    add_batch<mimalloc>("mimalloc", bytes);
#endif
    add_batch<strata_pool>("strata_pool", bytes);
    if (own_system) add_batch<system_malloc>(system, bytes);
    add_batch<tbbmalloc>("tbbmalloc", bytes);
  }
}

}  // namespace strata::bench::pools
