// SPDX-License-Identifier: Apache-2.0
// Per-thread state owned by an object that may die before or after the thread (a NumaPool's
// thread heaps, an EpochDomain's reader records): the thread remembers each slot it took, and at
// its exit hands every slot whose owner is still alive back to that owner. Private to runtime/.
#pragma once

#include <cstdint>

namespace strata::detail {

// An object that hands out per-thread slots. release_thread_slot runs on the exiting thread,
// under the registry's lock, so the owner cannot be unregistered (destroyed) meanwhile.
class ThreadSlotOwner {
 public:
  virtual void release_thread_slot(void* slot) noexcept = 0;

 protected:
  ~ThreadSlotOwner() = default;
};

// A unique, never reused id for `owner` (ids, not addresses, key the thread caches: a new owner
// at a dead one's address must not match).
std::uint64_t register_thread_slot_owner(ThreadSlotOwner* owner);
// After this returns, no release_thread_slot call for `id` runs or will run.
void unregister_thread_slot_owner(std::uint64_t id) noexcept;
// The calling thread holds `slot` of owner `id`; released to the owner when the thread exits.
void remember_thread_slot(std::uint64_t id, void* slot);
// The slot of owner `id` the calling thread holds, or nullptr: how an owner finds a thread's
// slot once it has dropped out of the owner's small thread cache. No lock: the list is the
// thread's own.
void* find_thread_slot(std::uint64_t id) noexcept;
// The calling thread gives `slot` back itself (it will not be released at exit).
void forget_thread_slot(std::uint64_t id, void* slot) noexcept;

}  // namespace strata::detail
