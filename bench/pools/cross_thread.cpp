// SPDX-License-Identifier: Apache-2.0
// Producer/consumer on two threads: one thread allocates 64-byte blocks and hands them through a
// ring to the other, which frees them all, so every free is a cross-thread (remote) free.
// tbbmalloc at the same size is every case's peer.
#include <immintrin.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "allocators.hpp"
#include "pools_settings.hpp"

namespace strata::bench::pools {
namespace {

constexpr std::size_t kBlocksPerIteration = 20'000;
constexpr std::size_t kRingSlots = 1024;  // a power of two
constexpr std::size_t kBlockBytes = 64;

// Single producer, single consumer; the same for every allocator, so its cost cancels in ratios.
struct Ring {
  alignas(64) std::atomic<std::uint64_t> head{0};  // next slot to fill (producer)
  alignas(64) std::atomic<std::uint64_t> tail{0};  // next slot to empty (consumer)
  alignas(64) std::array<void*, kRingSlots> slots{};
};

inline void spin_pause(unsigned& spins) {
  if (++spins < 64) {
    _mm_pause();
  } else {
    spins = 0;
    std::this_thread::yield();  // the machine has 2 CPUs shared with other work
  }
}

template <class A>
void producer_consumer(benchmark::State& state) {
  Ring ring;
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    std::uint64_t tail = 0;
    unsigned spins = 0;
    while (true) {
      std::uint64_t head = ring.head.load(std::memory_order_acquire);
      if (head == tail) {
        if (stop.load(std::memory_order_acquire) && ring.head.load() == tail) break;
        spin_pause(spins);
        continue;
      }
      for (; tail != head; ++tail) A::deallocate(ring.slots[tail % kRingSlots], kBlockBytes);
      ring.tail.store(tail, std::memory_order_release);
    }
  });
  std::uint64_t head = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBlocksPerIteration; ++i) {
      void* p = A::allocate(kBlockBytes);
      benchmark::DoNotOptimize(p);
      unsigned spins = 0;
      while (head - ring.tail.load(std::memory_order_acquire) == kRingSlots) spin_pause(spins);
      ring.slots[head % kRingSlots] = p;
      ring.head.store(++head, std::memory_order_release);
    }
    unsigned spins = 0;  // the iteration ends when the consumer has freed every block
    while (ring.tail.load(std::memory_order_acquire) != head) spin_pause(spins);
  }
  stop.store(true, std::memory_order_release);
  consumer.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBlocksPerIteration));
}

template <class A>
void add(const std::string& who) {
  add_case("xthread_free/" + who + "/64", "xthread_free/tbbmalloc/64",
           [](benchmark::State& s) { producer_consumer<A>(s); });
}

}  // namespace

void register_cross_thread_cases(const std::string& system) {
  add<tbbmalloc>("tbbmalloc");
  add<strata_pool>("strata_pool");
#ifndef STRATA_BENCH_POOLS_GLIBC
  add<mimalloc>("mimalloc");
#endif
  if (system != "mimalloc") add<system_malloc>(system);
}

}  // namespace strata::bench::pools
