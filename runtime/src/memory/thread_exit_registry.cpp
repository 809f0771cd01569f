// SPDX-License-Identifier: Apache-2.0
// The registry behind thread_exit_registry.hpp: live owners by id under one lock, and a
// thread_local list of (owner id, slot) whose destructor releases the slots at thread exit.
#include "memory/thread_exit_registry.hpp"

#include <algorithm>
#include <bit>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace strata::detail {
namespace {

struct Registry {
  std::mutex mutex;
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, ThreadSlotOwner*> owners;
};

// Never destroyed: thread_local destructors of late threads may run after static destruction.
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

struct ThreadSlots {
  std::vector<std::pair<std::uint64_t, void*>> slots;
  ~ThreadSlots() {
    if (slots.empty()) return;
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    for (auto [id, slot] : slots) {
      if (auto it = r.owners.find(id); it != r.owners.end()) it->second->release_thread_slot(slot);
    }
  }
};

thread_local ThreadSlots thread_slots;

}  // namespace

std::uint64_t register_thread_slot_owner(ThreadSlotOwner* owner) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::uint64_t id = r.next_id++;
  r.owners.emplace(id, owner);
  return id;
}

void unregister_thread_slot_owner(std::uint64_t id) noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.owners.erase(id);
}

void remember_thread_slot(std::uint64_t id, void* slot) {
  auto& v = thread_slots.slots;
  // A long-lived thread that meets many short-lived owners (a pool per test, say) would keep
  // their dead entries forever: drop them now and then.
  if (v.size() >= 64 && std::has_single_bit(v.size())) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    std::erase_if(v, [&](const auto& e) { return !r.owners.contains(e.first); });
  }
  v.emplace_back(id, slot);
}

void* find_thread_slot(std::uint64_t id) noexcept {
  const auto& v = thread_slots.slots;
  auto it = std::find_if(v.rbegin(), v.rend(), [id](const auto& e) { return e.first == id; });
  return it == v.rend() ? nullptr : it->second;
}

void forget_thread_slot(std::uint64_t id, void* slot) noexcept {
  auto& v = thread_slots.slots;
  v.erase(std::remove(v.begin(), v.end(), std::make_pair(id, slot)), v.end());
}

}  // namespace strata::detail
