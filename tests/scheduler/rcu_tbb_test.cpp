// SPDX-License-Identifier: Apache-2.0
// Proves RcuPtr covers oneTBB worker threads: readers running as tasks in tbb::task_arena (on
// workers that register with the epoch domain on first use) never see a freed object while a
// writer replaces it, and everything is reclaimed afterwards.
#include <gtest/gtest.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <thread>

#include "strata/runtime/sync/rcu_ptr.hpp"

namespace {

struct Guarded {
  static constexpr std::uint64_t kAlive = 0xa11ce5a11ce5ULL;
  explicit Guarded(std::uint64_t v) : value(v), check(v ^ kAlive) {}
  ~Guarded() { check = 0; }
  bool intact() const { return (value ^ check) == kAlive; }
  std::uint64_t value;
  std::uint64_t check;
};

// Proves readers in two task arenas (workers included) and a writer thread run together with no
// use of a freed object, bounded garbage, and nothing pending after synchronize.
TEST(RcuPtrTbb, ReadersInTaskArenasWithAWriter) {
  strata::EpochDomain domain;
  strata::RcuPtr<Guarded> ptr(domain, std::make_unique<Guarded>(0));
  std::atomic<bool> stop{false};
  std::atomic<bool> bad{false};
  std::atomic<std::size_t> most_pending{0};
  std::thread writer([&] {
    for (std::uint64_t i = 1; !stop.load(); ++i) {
      ptr.store(std::make_unique<Guarded>(i));
      std::size_t p = domain.pending();
      if (p > most_pending.load()) most_pending.store(p);
    }
  });
  std::atomic<std::uint64_t> reads{0};
  for (int round = 0; round < 2; ++round) {
    tbb::task_arena arena(2);
    arena.execute([&] {
      tbb::parallel_for(0, 20'000, [&](int) {
        auto view = ptr.read();
        if (!view->intact()) bad = true;
        reads.fetch_add(1, std::memory_order_relaxed);
      });
    });
  }
  stop = true;
  writer.join();
  EXPECT_FALSE(bad.load());
  EXPECT_EQ(reads.load(), 40'000u);
  EXPECT_LE(most_pending.load(), strata::EpochDomain::kPendingLimit);
  domain.synchronize();
  EXPECT_EQ(domain.pending(), 0u);
}

}  // namespace
