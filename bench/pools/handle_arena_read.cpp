// SPDX-License-Identifier: Apache-2.0
// Handle lookups while objects move: HandleArena::get in a read guard (no lock) against the same
// objects in a table guarded by a std::shared_mutex (a read lock per lookup), at 1 and 2 reader
// threads. Beside the readers a maintenance thread replaces 1/16 of the objects and compacts its
// store, once per pause: the arena frees and remakes them (holes, young objects to age and
// promote) and compacts; the table overwrites them and copies every object to a fresh buffer
// under its exclusive lock, as a locked store that moves objects must.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "pools_settings.hpp"
#include "strata/runtime/machine/topology.hpp"
#include "strata/runtime/memory/handle_arena.hpp"
#include "strata/runtime/memory/memory_manager.hpp"

namespace strata::bench::pools {
namespace {

constexpr std::size_t kObjects = 4096;
constexpr std::size_t kGetsPerIteration = 1000;
constexpr std::size_t kReplacedPerRound = kObjects / 16;
// Between two compactions: long enough that the compactor is not a third busy thread on this
// 2-CPU machine, short enough that each 50 ms repetition sees tens of compactions.
constexpr auto kCompactionPause = std::chrono::microseconds(500);

struct Object {
  std::uint64_t value;
  std::uint64_t payload[7];
};

// The baseline: the objects in one buffer, found through a table of pointers; lookups take the
// read lock, compaction copies them to a fresh buffer and repoints the table under the write lock.
class LockedTable {
 public:
  LockedTable() : storage_(kObjects), table_(kObjects) {
    for (std::size_t i = 0; i < kObjects; ++i) {
      storage_[i].value = i;
      table_[i] = &storage_[i];
    }
  }
  std::uint64_t get(std::size_t i) const {
    std::shared_lock lock(mutex_);
    return table_[i]->value;
  }
  void replace(std::size_t i) {
    std::unique_lock lock(mutex_);
    *table_[i] = Object{i, {}};
  }
  void compact() {
    std::unique_lock lock(mutex_);
    std::vector<Object> fresh(storage_);
    for (std::size_t i = 0; i < kObjects; ++i) table_[i] = &fresh[i];
    storage_.swap(fresh);
  }

 private:
  mutable std::shared_mutex mutex_;
  std::vector<Object> storage_;
  std::vector<Object*> table_;
};

struct ArenaStore {
  Topology topology = Topology::load();
  MemoryManager memory{topology};
  HandleArena arena{memory, {.fast_bytes = 1 << 20, .slow_bytes = 1 << 20}};
  TypedHandleArena<Object> objects{arena};
  // The current handle of object i (replaced objects get new handles; a reader that loaded the
  // old one finds it stale and counts nothing).
  std::vector<std::atomic<TypedHandle<Object>>> handles{kObjects};
  ArenaStore() {
    for (std::size_t i = 0; i < kObjects; ++i) handles[i].store(objects.make(Object{i, {}}));
  }
  void replace(std::size_t i) {
    TypedHandle<Object> old = handles[i].exchange(objects.make(Object{i, {}}));
    objects.destroy(old);
  }
  void compact() { arena.compact(); }
};

ArenaStore& arena_store() {
  static ArenaStore s;
  return s;
}
LockedTable& locked_table() {
  static LockedTable t;
  return t;
}

// The next object to look up: a xorshift over the indices, its own per thread.
std::size_t next_index(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return static_cast<std::size_t>(x % kObjects);
}

// Replaces kReplacedPerRound objects of `store` and compacts it, every kCompactionPause until
// stopped; counts the rounds.
template <class Store>
class Compactor {
 public:
  explicit Compactor(Store& store)
      : thread_([this, &store] {
          std::uint64_t x = 0x2545F4914F6CDD1DULL;
          while (!stop_.load(std::memory_order_acquire)) {
            for (std::size_t i = 0; i < kReplacedPerRound; ++i) store.replace(next_index(x));
            store.compact();
            compactions_.fetch_add(1, std::memory_order_relaxed);
            std::this_thread::sleep_for(kCompactionPause);
          }
        }) {}
  ~Compactor() {
    stop_.store(true, std::memory_order_release);
    thread_.join();
  }
  std::uint64_t compactions() const { return compactions_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> compactions_{0};
  std::thread thread_;
};

// Thread 0 starts the compactor before the timed loop (Google Benchmark's barrier) and stops it
// after; the compactions per second are reported so the two stores can be seen moving alike.
template <class Store, class Get>
void lookups(benchmark::State& state, Store& store, Get get) {
  std::unique_ptr<Compactor<Store>> compactor;
  if (state.thread_index() == 0) compactor = std::make_unique<Compactor<Store>>(store);
  std::uint64_t x = 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(state.thread_index());
  std::uint64_t sum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    for (std::size_t i = 0; i < kGetsPerIteration; ++i) sum += get(next_index(x));
    benchmark::DoNotOptimize(sum);
  }
  if (compactor != nullptr) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.counters["compactions_per_s"] =
        static_cast<double>(compactor->compactions()) / std::max(seconds, 1e-9);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kGetsPerIteration));
}

void arena_gets(benchmark::State& state) {
  ArenaStore& s = arena_store();
  lookups(state, s, [&s](std::size_t i) {
    TypedHandle<Object> h = s.handles[i].load(std::memory_order_relaxed);
    auto guard = s.arena.read();
    const Object* o = s.objects.get(guard, h);
    return o == nullptr ? 0 : o->value;
  });
}

void table_gets(benchmark::State& state) {
  LockedTable& t = locked_table();
  lookups(state, t, [&t](std::size_t i) { return t.get(i); });
}

}  // namespace

void register_handle_arena_cases() {
  arena_store();  // built before any timing
  locked_table();
  for (int threads : {1, 2}) {
    const std::string base = "handle_get/shared_mutex_table";
    add_threaded_case(base, base, threads, table_gets);
    add_threaded_case("handle_get/handle_arena", base, threads, arena_gets);
  }
}

}  // namespace strata::bench::pools
