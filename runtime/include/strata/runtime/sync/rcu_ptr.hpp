// SPDX-License-Identifier: Apache-2.0
// RcuPtr<T>: a pointer to an immutable T that many threads read without locks while a writer
// replaces it; the replaced object is reclaimed through an EpochDomain once no reader can see
// it. Readers hold a guard for as long as they use the object.
//
//   strata::EpochDomain domain;
//   strata::RcuPtr<Config> config(domain, std::make_unique<Config>(...));
//   { auto view = config.read();  use(view->threshold); }      // readers, any thread
//   config.update([](Config& c) { c.threshold = 2; });          // copy, change, publish
//   config.store(std::make_unique<Config>(...));                 // or replace outright
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <utility>

#include "strata/runtime/sync/epoch_domain.hpp"

namespace strata {

template <class T>
class RcuPtr {
 public:
  // `domain` must outlive the pointer. `initial` may be null.
  explicit RcuPtr(EpochDomain& domain, std::unique_ptr<T> initial = nullptr)
      : domain_(&domain), current_(initial.release()) {}
  RcuPtr(const RcuPtr&) = delete;
  RcuPtr& operator=(const RcuPtr&) = delete;
  // Retires the current object to the domain (freed when readers are done, or with the domain).
  ~RcuPtr() {
    if (T* p = current_.load(std::memory_order_relaxed)) domain_->retire(p);
  }

  // The object as of the call, kept alive while the view lives (one read section).
  class ReadView {
   public:
    const T* get() const noexcept { return object_; }
    const T& operator*() const noexcept { return *object_; }
    const T* operator->() const noexcept { return object_; }
    explicit operator bool() const noexcept { return object_ != nullptr; }

   private:
    friend class RcuPtr;
    ReadView(EpochDomain& domain, const std::atomic<T*>& source)
        : guard_(domain), object_(source.load(std::memory_order_acquire)) {}
    EpochDomain::ReadGuard guard_;
    const T* object_;
  };
  ReadView read() const { return ReadView(*domain_, current_); }
  // The object inside a read section the caller already holds on this pointer's domain.
  const T* load(const EpochDomain::ReadGuard&) const noexcept {
    return current_.load(std::memory_order_acquire);
  }

  // Publishes `next` (may be null) and retires the previous object. Writers are serialised.
  void store(std::unique_ptr<T> next) {
    T* old;
    {
      std::lock_guard lock(writer_);
      old = current_.exchange(next.release(), std::memory_order_acq_rel);
    }
    if (old != nullptr) domain_->retire(old);
  }
  // Copies the current object (which must exist), applies `change` to the copy and publishes
  // it; concurrent updates are serialised, so none is lost.
  template <class F>
  void update(F&& change) {
    T* old;
    {
      std::lock_guard lock(writer_);
      auto next = std::make_unique<T>(*current_.load(std::memory_order_acquire));
      std::forward<F>(change)(*next);
      old = current_.exchange(next.release(), std::memory_order_acq_rel);
    }
    domain_->retire(old);
  }

  EpochDomain& domain() const noexcept { return *domain_; }

 private:
  EpochDomain* domain_;
  std::atomic<T*> current_;
  std::mutex writer_;
};

}  // namespace strata
