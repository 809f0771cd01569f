// SPDX-License-Identifier: Apache-2.0
// EpochDomain: a global epoch, one reader record per thread (its epoch while inside a read
// section, 0 outside), and a list of retired objects tagged with the epoch they were retired in.
// The epoch advances only when every reader inside a section has seen the current one, so an
// object retired at epoch e is unreachable once the epoch reaches e + 2.
#include "strata/runtime/base/assert.hpp"
#include "strata/runtime/sync/epoch_domain.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "memory/thread_exit_registry.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata {

// The thread's cache of its records (declared in the header, read by the inline ReadGuard).
constinit thread_local detail::EpochThreadEntry detail::epoch_thread_records[kEpochCachedDomains]
    __attribute__((tls_model("initial-exec"))) = {};

namespace {

using Record = detail::EpochRecord;

struct Retired {
  void* object;
  void (*deleter)(void*);
  std::uint64_t epoch;
};

constexpr std::size_t kCachedDomains = detail::kEpochCachedDomains;

bool register_membarrier() noexcept {
#if defined(__SANITIZE_THREAD__)
  return false;  // ThreadSanitizer does not see membarrier's ordering; use the fenced readers
#else
  long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
  return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

}  // namespace

struct EpochDomain::Core final : detail::ThreadSlotOwner {
  std::uint64_t id = 0;
  bool asymmetric = false;
  std::atomic<std::uint64_t> global{1};
  mutable std::mutex mutex;
  Record* records = nullptr;
  std::vector<Retired> retired;

  Record* thread_record() {
    if (detail::epoch_thread_records[0].domain_id == id) [[likely]] {
      return detail::epoch_thread_records[0].record;
    }
    return thread_record_slow();
  }

  Record* thread_record_slow() {
    // Out of the cache (the thread reads more than kCachedDomains domains): the registry still
    // knows its record, which must be found again rather than a second one claimed.
    auto* r = static_cast<Record*>(detail::find_thread_slot(id));
    if (r == nullptr) {
      {
        std::lock_guard lock(mutex);
        for (Record* x = records; x != nullptr && r == nullptr; x = x->next) {
          if (!x->in_use) r = x;
        }
        if (r == nullptr) {
          r = new Record();
          r->next = records;
          records = r;
        }
        r->in_use = true;
      }
      detail::remember_thread_slot(id, r);
    }
    for (std::size_t i = kCachedDomains - 1; i > 0; --i)
      detail::epoch_thread_records[i] = detail::epoch_thread_records[i - 1];
    detail::epoch_thread_records[0] = {id, r};
    return r;
  }

  // True when the calling thread is inside a read section of this domain.
  bool inside_read_section() const noexcept {
    const auto* r = static_cast<const Record*>(detail::find_thread_slot(id));
    return r != nullptr && r->depth != 0;
  }

  // Makes every reader's announcement visible before the scan that follows.
  void writer_barrier() noexcept {
    if (asymmetric && syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) return;
    global.fetch_add(0, std::memory_order_seq_cst);
  }

  // Advances the epoch if every reader inside a section has seen it; moves what is due into
  // `due`. Under the lock.
  void try_advance_locked(std::vector<Retired>& due) {
    writer_barrier();
    std::uint64_t g = global.load(std::memory_order_relaxed);
    bool caught_up = true;
    for (Record* r = records; r != nullptr; r = r->next) {
      std::uint64_t e = r->epoch.load(std::memory_order_acquire);
      if (e != 0 && e != g) {
        caught_up = false;
        break;
      }
    }
    if (caught_up) global.store(++g, std::memory_order_seq_cst);
    auto is_due = [g](const Retired& x) { return x.epoch + 2 <= g; };
    for (const Retired& x : retired) {
      if (is_due(x)) due.push_back(x);
    }
    std::erase_if(retired, is_due);
  }

  void release_thread_slot(void* slot) noexcept override {
    for (auto& e : detail::epoch_thread_records) {
      if (e.domain_id == id) e = {0, nullptr};
    }
    auto* r = static_cast<Record*>(slot);
    std::lock_guard lock(mutex);
    r->depth = 0;
    r->epoch.store(0, std::memory_order_release);
    r->in_use = false;
  }
};

namespace {
void free_all(const std::vector<Retired>& due) noexcept {
  for (const Retired& x : due) x.deleter(x.object);
}
}  // namespace

EpochDomain::EpochDomain() : core_(std::make_unique<Core>()) {
  core_->asymmetric = register_membarrier();
  core_->id = detail::register_thread_slot_owner(core_.get());
  id_ = core_->id;
  asymmetric_ = core_->asymmetric;
  global_ = &core_->global;
}

EpochDomain::~EpochDomain() {
  detail::unregister_thread_slot_owner(core_->id);
  free_all(core_->retired);
  for (Record* r = core_->records; r != nullptr;) {
    Record* next = r->next;
    delete r;
    r = next;
  }
}

detail::EpochRecord* EpochDomain::thread_record_slow() { return core_->thread_record(); }

void EpochDomain::retire(void* object, void (*deleter)(void*)) {
  if (object == nullptr) return;
  if (deleter == nullptr) {
    throw Error(ErrorCategory::invalid_argument, "retire needs a deleter for a non-null object");
  }
  std::vector<Retired> due;
  bool over_limit;
  {
    std::lock_guard lock(core_->mutex);
    core_->retired.push_back({object, deleter, core_->global.load(std::memory_order_relaxed)});
    if (core_->retired.size() >= kReclaimThreshold) core_->try_advance_locked(due);
    over_limit = core_->retired.size() >= kPendingLimit;
  }
  free_all(due);
  // Inside a read section the wait could never end: let the garbage grow past the limit.
  if (over_limit && !core_->inside_read_section()) synchronize();
}

void EpochDomain::synchronize() {
  if (core_->inside_read_section()) {
    throw Error(ErrorCategory::invalid_argument,
                "synchronize inside a read section of the same domain would wait forever");
  }
  std::uint64_t target;
  {
    std::lock_guard lock(core_->mutex);
    target = core_->global.load(std::memory_order_relaxed) + 2;
  }
  while (true) {
    std::vector<Retired> due;
    bool done;
    {
      std::lock_guard lock(core_->mutex);
      core_->try_advance_locked(due);
      done = core_->global.load(std::memory_order_relaxed) >= target;
    }
    free_all(due);
    if (done) return;
    std::this_thread::yield();
  }
}

void EpochDomain::reclaim() {
  std::vector<Retired> due;
  {
    std::lock_guard lock(core_->mutex);
    // Two advances: an object retired at epoch e is due at e + 2.
    for (int i = 0; i < 2 && !core_->retired.empty(); ++i) core_->try_advance_locked(due);
  }
  free_all(due);
}

std::size_t EpochDomain::pending() const {
  std::lock_guard lock(core_->mutex);
  return core_->retired.size();
}

std::size_t EpochDomain::reader_records() const {
  std::lock_guard lock(core_->mutex);
  std::size_t n = 0;
  for (const Record* r = core_->records; r != nullptr; r = r->next) ++n;
  return n;
}

std::uint64_t EpochDomain::epoch() const noexcept {
  return core_->global.load(std::memory_order_relaxed);
}

bool EpochDomain::asymmetric_fences() const noexcept { return core_->asymmetric; }

}  // namespace strata
