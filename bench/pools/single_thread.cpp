// SPDX-License-Identifier: Apache-2.0
// One thread: alloc/free pairs at 16 B to 4 KiB and at the mid-size tier's 48 KiB, 128 KiB and
// 512 KiB, and batches (1,000 small or 100 mid-size allocations, then their frees), for each
// allocator; mimalloc at the same size is every case's peer (tbbmalloc in
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
// Mid-size batches hold 100 blocks (51 MiB at 512 KiB): a thousand would measure page faults.
constexpr std::size_t kMidBatch = 100;

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
void batch(benchmark::State& state, std::size_t bytes, std::size_t count) {
  std::vector<void*> blocks(count);
  for (auto _ : state) {
    for (auto& p : blocks) {
      p = A::allocate(bytes);
      benchmark::DoNotOptimize(p);
    }
    for (void* p : blocks) A::deallocate(p, bytes);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * count));
}

template <class A>
void add_size(const std::string& who, std::size_t bytes) {
  const std::string size = std::to_string(bytes);
  add_case("pair/" + who + "/" + size, std::string("pair/") + single_thread_peer + "/" + size,
           [bytes](benchmark::State& s) { pairs<A>(s, bytes); });
}

template <class A>
void add_batch(const std::string& who, std::size_t bytes, std::size_t count = kBatch) {
  const std::string size = std::to_string(bytes);
  const std::string kind = "batch" + std::to_string(count) + "/";
  add_case(kind + who + "/" + size, kind + single_thread_peer + "/" + size,
           [bytes, count](benchmark::State& s) { batch<A>(s, bytes, count); });
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
  // The mid-size tier (NumaPool above 32 KiB).
  for (std::size_t bytes : {48 * 1024, 128 * 1024, 512 * 1024}) {
#ifndef STRATA_BENCH_POOLS_GLIBC
    add_size<mimalloc>("mimalloc", bytes);
    add_batch<mimalloc>("mimalloc", bytes, kMidBatch);
#endif
    add_size<strata_pool>("strata_pool", bytes);
    add_batch<strata_pool>("strata_pool", bytes, kMidBatch);
    if (own_system) {
      add_size<system_malloc>(system, bytes);
      add_batch<system_malloc>(system, bytes, kMidBatch);
    }
    add_size<tbbmalloc>("tbbmalloc", bytes);
    add_batch<tbbmalloc>("tbbmalloc", bytes, kMidBatch);
  }
}

}  // namespace strata::bench::pools
