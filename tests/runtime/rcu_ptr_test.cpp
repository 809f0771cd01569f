// SPDX-License-Identifier: Apache-2.0
// Tests of EpochDomain and RcuPtr: readers see whole objects, replaced objects are freed only
// after readers leave, nested and moved guards, records of exited threads reused, garbage stays
// bounded under a writer and several readers (run under ThreadSanitizer too, label tsan).
#include "strata/runtime/sync/rcu_ptr.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::EpochDomain;
using strata::RcuPtr;

#if defined(__SANITIZE_THREAD__)
constexpr int kUpdates = 5'000;
#else
constexpr int kUpdates = 50'000;
#endif

std::atomic<int> live_objects{0};

// An object that poisons itself when freed, so a reader that sees a freed one notices even
// without a sanitizer.
struct Versioned {
  static constexpr std::uint64_t kAlive = 0x600dcafe600dcafeULL;
  explicit Versioned(std::uint64_t v) : version(v), check(v ^ kAlive) { live_objects.fetch_add(1); }
  Versioned(const Versioned& o) : version(o.version), check(o.check) { live_objects.fetch_add(1); }
  ~Versioned() {
    check = 0;
    live_objects.fetch_sub(1);
  }
  bool intact() const { return (version ^ check) == kAlive; }
  std::uint64_t version;
  std::uint64_t check;
};

// Proves a reader sees the published object, store and update replace it, and the replaced
// objects are freed once no reader can hold them (synchronize), not before.
TEST(RcuPtr, ReadStoreUpdateAndDeferredFree) {
  const int before = live_objects.load();
  {
    EpochDomain domain;
    RcuPtr<Versioned> p(domain, std::make_unique<Versioned>(1));
    EXPECT_EQ(p.read()->version, 1u);
    {
      auto view = p.read();  // holds version 1 across the replacement
      p.store(std::make_unique<Versioned>(2));
      domain.retire(new Versioned(99));
      EXPECT_TRUE(view->intact());
      EXPECT_EQ(view->version, 1u);
      EXPECT_EQ(domain.pending(), 2u);
    }
    p.update([](Versioned& v) {
      v.version = 3;
      v.check = 3 ^ Versioned::kAlive;
    });
    EXPECT_EQ(p.read()->version, 3u);
    domain.synchronize();
    EXPECT_EQ(domain.pending(), 0u);
    EXPECT_EQ(live_objects.load(), before + 1);
  }
  EXPECT_EQ(live_objects.load(), before);  // the domain frees the last one with it
}

// Proves nested guards and a moved guard keep the section open until the last one ends.
TEST(EpochDomain, NestedAndMovedGuards) {
  EpochDomain domain;
  auto* x = new Versioned(7);
  std::uint64_t start = domain.epoch();
  {
    auto outer = domain.read();
    {
      auto inner = domain.read();
      EpochDomain::ReadGuard moved(std::move(inner));
    }
    domain.retire(x);
    // The writer side cannot free x while this thread is inside: two advances are needed and
    // this reader blocks the second.
    std::thread([&] {
      for (std::size_t i = 0; i < 2 * EpochDomain::kReclaimThreshold; ++i)
        domain.retire(new Versioned(0));
    }).join();
    EXPECT_TRUE(x->intact());
    EXPECT_LE(domain.epoch(), start + 1);
  }
  domain.synchronize();
  EXPECT_EQ(domain.pending(), 0u);
}

// Proves reclaim() frees a retired object below the usual threshold once no reader can hold
// it, keeps it while a reader (on another thread) is inside a section that began before the
// retire, and never waits — also when called inside a section of its own.
TEST(EpochDomain, ReclaimFreesWhatNoReaderHoldsWithoutWaiting) {
  EpochDomain domain;
  domain.retire(new Versioned(1));
  domain.reclaim();
  EXPECT_EQ(domain.pending(), 0u);

  auto* held = new Versioned(2);
  std::atomic<int> phase{0};
  std::thread reader([&] {
    auto guard = domain.read();
    phase.store(1);
    while (phase.load() != 2) std::this_thread::yield();
  });
  while (phase.load() != 1) std::this_thread::yield();
  domain.retire(held);
  {
    auto own = domain.read();
    domain.reclaim();  // inside a section: returns, frees nothing this thread might see
  }
  domain.reclaim();
  EXPECT_EQ(domain.pending(), 1u);
  EXPECT_TRUE(held->intact());
  phase.store(2);
  reader.join();
  domain.reclaim();
  EXPECT_EQ(domain.pending(), 0u);
}

// Proves a reader cannot hang itself: synchronize inside its own section throws strata::Error
// (also once five other domains have pushed this one out of the thread's cache), retire past
// kPendingLimit inside a section returns instead of waiting, and a null deleter is refused.
TEST(EpochDomain, MisuseInsideAReadSectionIsRefusedNotAHang) {
  EpochDomain domain;
  {
    auto guard = domain.read();
    EXPECT_THROW(domain.synchronize(), strata::Error);
    std::vector<std::unique_ptr<EpochDomain>> others;
    for (int i = 0; i < 5; ++i) {
      others.push_back(std::make_unique<EpochDomain>());
      auto other_guard = others.back()->read();
    }
    EXPECT_THROW(domain.synchronize(), strata::Error);
    for (std::size_t i = 0; i < EpochDomain::kPendingLimit + 8; ++i) {
      domain.retire(new Versioned(i));
    }
    EXPECT_GE(domain.pending(), EpochDomain::kPendingLimit);
  }
  int x = 0;
  EXPECT_THROW(domain.retire(&x, nullptr), strata::Error);
  domain.synchronize();
  EXPECT_EQ(domain.pending(), 0u);
}

// Proves records of exited threads are handed back and reused: two hundred short threads, one
// after another, that each read leave one reader record (not two hundred), the domain working
// and nothing pending after synchronize.
TEST(EpochDomain, ShortLivedThreadsReuseRecords) {
  EpochDomain domain;
  RcuPtr<Versioned> p(domain, std::make_unique<Versioned>(1));
  for (int i = 0; i < 200; ++i) {
    std::thread([&] { EXPECT_TRUE(p.read()->intact()); }).join();
    p.store(std::make_unique<Versioned>(static_cast<std::uint64_t>(i)));
  }
  EXPECT_EQ(domain.reader_records(), 1u);
  domain.synchronize();
  EXPECT_EQ(domain.pending(), 0u);
}

// Proves under three readers and a writer doing tens of thousands of replacements that no reader
// ever sees a freed or torn object, versions only move forward for each reader, and garbage
// stays bounded (a few reclaim thresholds) throughout.
TEST(RcuPtr, ReadersAndWriterStressBoundedGarbage) {
  const int before = live_objects.load();
  EpochDomain domain;
  RcuPtr<Versioned> p(domain, std::make_unique<Versioned>(0));
  std::atomic<bool> stop{false};
  std::atomic<bool> bad{false};
  std::atomic<std::uint64_t> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      std::uint64_t last = 0, n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        auto view = p.read();
        if (!view->intact() || view->version < last) bad = true;
        last = view->version;
        ++n;
      }
      reads.fetch_add(n);
    });
  }
  std::size_t most_pending = 0;
  for (int i = 1; i <= kUpdates; ++i) {
    p.store(std::make_unique<Versioned>(static_cast<std::uint64_t>(i)));
    most_pending = std::max(most_pending, domain.pending());
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_FALSE(bad.load());
  EXPECT_GT(reads.load(), 0u);
  EXPECT_LE(most_pending, EpochDomain::kPendingLimit) << "garbage not bounded";
  domain.synchronize();
  EXPECT_EQ(domain.pending(), 0u);
  EXPECT_EQ(live_objects.load(), before + 1);
}

}  // namespace
