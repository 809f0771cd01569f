// SPDX-License-Identifier: Apache-2.0
// EpochDomain: epoch-based reclamation for data that many threads read while a writer replaces
// it (RcuPtr is built on it). Readers mark a read-side section with a ReadGuard — a store to
// their own cache line, no read-modify-write — and a replaced object is freed only after every
// reader that might still see it has left. Any thread may read: its record is made on first use
// (oneTBB workers included) and handed back when it exits.
//
//   strata::EpochDomain domain;
//   { auto guard = domain.read();  use(shared.load(std::memory_order_acquire)); }
//   shared.store(fresh, std::memory_order_release);  domain.retire(old);  // freed later
//
// Where the kernel offers membarrier(2) (Linux >= 4.14), readers need no fence at all: the
// writer's reclamation pays for it with one expedited membarrier. Otherwise readers use one
// sequentially consistent exchange.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "strata/runtime/base/assert.hpp"

namespace strata {

namespace detail {
// A reader's record (one per thread and domain) and the thread's cache of its newest four, in
// the header so that entering and leaving a read section are inline: a handful of instructions.
struct alignas(64) EpochRecord {
  std::atomic<std::uint64_t> epoch{0};  // 0: not reading
  unsigned depth = 0;                   // nesting, owner thread only
  bool in_use = false;                  // under the domain's lock
  EpochRecord* next = nullptr;
};
struct EpochThreadEntry {
  std::uint64_t domain_id;
  EpochRecord* record;
};
inline constexpr std::size_t kEpochCachedDomains = 4;
extern constinit thread_local EpochThreadEntry epoch_thread_records[kEpochCachedDomains]
    __attribute__((tls_model("initial-exec")));
}  // namespace detail

class EpochDomain {
 public:
  // Objects retired before the domain tries to free what readers have left behind.
  static constexpr std::size_t kReclaimThreshold = 64;
  // Retired objects at which retire() waits for readers (synchronize) instead of letting garbage
  // grow: a reader preempted inside a section must not make memory use unbounded.
  static constexpr std::size_t kPendingLimit = 16 * kReclaimThreshold;

  EpochDomain();
  EpochDomain(const EpochDomain&) = delete;
  EpochDomain& operator=(const EpochDomain&) = delete;
  // Frees every retired object. No thread may be inside a read section of this domain.
  ~EpochDomain();

  // A read-side section: objects reachable when it began stay alive until it ends. Nestable;
  // not to be moved to another thread. Entering never blocks and never allocates after the
  // thread's first use of the domain.
  class ReadGuard {
   public:
    explicit ReadGuard(EpochDomain& domain) {
      const detail::EpochThreadEntry& cached = detail::epoch_thread_records[0];
      detail::EpochRecord* r =
          cached.domain_id == domain.id_ ? cached.record : domain.thread_record_slow();
      if (r->depth++ == 0) domain.announce(r);
      record_ = r;
    }
    ReadGuard(ReadGuard&& other) noexcept : record_(other.record_) { other.record_ = nullptr; }
    ReadGuard(const ReadGuard&) = delete;
    ReadGuard& operator=(const ReadGuard&) = delete;
    ReadGuard& operator=(ReadGuard&&) = delete;
    ~ReadGuard() {
      if (record_ == nullptr) return;
      STRATA_ASSERT(record_->depth > 0);  // a guard left a section it never entered
      STRATA_ASSERT(record_->epoch.load(std::memory_order_relaxed) != 0);
      if (--record_->depth == 0) record_->epoch.store(0, std::memory_order_release);
    }

   private:
    detail::EpochRecord* record_;
  };
  ReadGuard read() { return ReadGuard(*this); }

  // Frees `object` with `deleter` once no reader can hold it. Any thread. Frees what is due
  // every retire from kReclaimThreshold pending on, and waits for readers (synchronize) when
  // kPendingLimit are pending, so garbage stays bounded — except inside a read section of this
  // domain, where it never waits. Throws Error(invalid_argument) for a null deleter.
  void retire(void* object, void (*deleter)(void*));
  template <class T>
  void retire(T* object) {
    retire(const_cast<void*>(static_cast<const void*>(object)),
           [](void* p) { delete static_cast<T*>(p); });
  }
  // Waits until every reader inside a section when it was called has left, then frees
  // everything retired before the call. Throws Error(invalid_argument) inside a read section of
  // this domain (it would wait forever).
  void synchronize();
  // Frees, without waiting, what no reader can hold any more, advancing the epoch as far as the
  // readers inside sections allow. Any thread, inside a read section too: for a writer that
  // retires large objects rarely (below kReclaimThreshold) and wants them back soon.
  void reclaim();
  // Retired objects not yet freed.
  std::size_t pending() const;
  // Reader records this domain has made: one per thread that has read it, at most as many as
  // such threads alive at once, since an exited thread's record is reused by the next reader.
  std::size_t reader_records() const;
  // The global epoch (advances as readers leave old sections).
  std::uint64_t epoch() const noexcept;
  // True when readers run fence-free (membarrier available and not under ThreadSanitizer).
  bool asymmetric_fences() const noexcept;

  struct Core;  // private; defined in runtime/src/sync/epoch_domain.cpp

 private:
  // The calling thread's record when the cache does not hold it (first read, or more than
  // kEpochCachedDomains domains read): found again or made.
  detail::EpochRecord* thread_record_slow();
  // Publishes the global epoch in the reader's record on entering its outermost section.
  void announce(detail::EpochRecord* r) noexcept {
    const std::uint64_t e = global_->load(std::memory_order_relaxed);
    if (asymmetric_) {
      // The writer's membarrier orders this store before its scan; only the compiler must keep
      // the reads of shared data after it.
      r->epoch.store(e, std::memory_order_release);
      std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
      r->epoch.exchange(e, std::memory_order_seq_cst);
    }
  }

  std::unique_ptr<Core> core_;
  // Copies of Core's fields the inline read side needs.
  std::uint64_t id_ = 0;
  bool asymmetric_ = false;
  std::atomic<std::uint64_t>* global_ = nullptr;
};

}  // namespace strata
