// SPDX-License-Identifier: Apache-2.0
// One thread: alloc/free pairs at 16 B to 4 KiB, and batches (1,000 allocations, then their
// 1,000 frees), for each allocator; mimalloc at the same size is every case's peer.
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
  add_case("pair/" + who + "/" + size, "pair/mimalloc/" + size,
           [bytes](benchmark::State& s) { pairs<A>(s, bytes); });
}

template <class A>
void add_batch(const std::string& who, std::size_t bytes) {
  const std::string size = std::to_string(bytes);
  add_case("batch1000/" + who + "/" + size, "batch1000/mimalloc/" + size,
           [bytes](benchmark::State& s) { batch<A>(s, bytes); });
}

}  // namespace

void register_single_thread_cases(bool jemalloc_loaded) {
  const std::string system = jemalloc_loaded ? "jemalloc" : "glibc";
  for (std::size_t bytes : {16, 64, 256, 1024, 4096}) {
    add_size<mimalloc>("mimalloc", bytes);
    add_size<strata_pool>("strata_pool", bytes);
    add_size<system_malloc>(system, bytes);
    add_size<tbbmalloc>("tbbmalloc", bytes);
  }
  for (std::size_t bytes : {64, 1024}) {
    add_batch<mimalloc>("mimalloc", bytes);
    add_batch<strata_pool>("strata_pool", bytes);
    add_batch<system_malloc>(system, bytes);
    add_batch<tbbmalloc>("tbbmalloc", bytes);
  }
}

}  // namespace strata::bench::pools
