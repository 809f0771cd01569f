// SPDX-License-Identifier: Apache-2.0
// HandleArena: long-lived simulation objects behind stable handles instead of pointers, so the
// arena may move them — compaction, promotion from a fast tier for young objects to a slow tier
// for old ones, growth — without invalidating anything a caller holds. A handle carries a
// generation: once its object is freed the handle goes stale and try_get says so, even after
// the slot is reused. The slow tier may be a mapped file, so cold objects live on disk and the
// page cache, not in the process's RAM (spill()).
//
//   strata::HandleArena arena(rt.memory(), {.slow_file = "/scratch/cells.slow"});
//   strata::TypedHandleArena<Cell> cells(arena);
//   auto h = cells.make(Cell{...});
//   if (Cell* c = cells.try_get(h)) c->mass += dm;   // pointer valid until the next allocate,
//   arena.compact();                                  // promote or compact on this arena
//
// Not thread-safe: one arena per thread, or guard it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/runtime/memory/memory_manager.hpp"
#include "strata/runtime/memory/placed_region.hpp"
#include "strata/runtime/memory/placement.hpp"

namespace strata {

// A reference to an object of a HandleArena. The default handle is null (never valid).
struct Handle {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;  // 0 only in the null handle
  explicit operator bool() const noexcept { return generation != 0; }
  friend bool operator==(Handle, Handle) = default;
};

// Where a handle's object lives, or invalid (null, freed, or from another arena's slot table).
enum class HandleState : std::uint8_t { invalid, fast, slow };
std::string_view to_string(HandleState state) noexcept;

struct HandleArenaOptions {
  // The fast tier: a bump-allocated young generation, compacted when full.
  std::size_t fast_bytes = std::size_t{4} << 20;
  // The slow tier's first size; it doubles when full.
  std::size_t slow_bytes = std::size_t{16} << 20;
  // When non-empty, the slow tier is this file, mapped shared (created or truncated now, removed
  // with the arena): the kernel may write its cold pages back and drop them from RAM.
  std::string slow_file;
  // Fast-tier compactions an object survives before it is promoted to the slow tier, at most
  // HandleArena::kMaxPromoteAfter (254; a slot counts its age in one byte); more is refused.
  unsigned promote_after = 2;
  Placement placement = Placement::local();
};

struct HandleArenaStats {
  std::size_t fast_objects = 0;
  std::size_t slow_objects = 0;
  std::size_t fast_used_bytes = 0;  // bump pointer, holes of freed objects included
  std::size_t fast_capacity_bytes = 0;
  std::size_t slow_used_bytes = 0;
  std::size_t slow_live_bytes = 0;
  std::size_t slow_capacity_bytes = 0;
  std::uint64_t compactions = 0;
  std::uint64_t promotions = 0;
  std::uint64_t relocations = 0;  // objects moved (compaction, promotion, growth)
};

class HandleArena {
 public:
  // Every object is aligned to this.
  static constexpr std::size_t kAlignment = 16;
  // Objects above fast_bytes / kLargeFraction go straight to the slow tier.
  static constexpr std::size_t kLargeFraction = 4;
  // The largest promote_after (HandleArenaOptions); a slot's age is one byte.
  static constexpr unsigned kMaxPromoteAfter = 254;

  // Reserves both tiers from `memory` (counted in its statistics). Throws Error(invalid_argument)
  // for a tier under 64 KiB, Error(io) or Error(resource) when the file or memory is refused.
  explicit HandleArena(MemoryManager& memory, HandleArenaOptions options = {});
  HandleArena(const HandleArena&) = delete;
  HandleArena& operator=(const HandleArena&) = delete;
  ~HandleArena();

  // A new object of `bytes` (uninitialised) in the fast tier, or the slow one when large.
  // May compact or grow (moving objects). Throws Error(invalid_argument) for 0 or more than
  // 4 GiB, Error(resource) when the slow tier cannot grow.
  Handle allocate(std::size_t bytes);
  // Frees the object; false when `h` is not valid (already freed, null, unknown).
  bool free(Handle h) noexcept;

  // The object, or nullptr when `h` is not valid. Valid until the next allocate, promote or
  // compact on this arena.
  void* try_get(Handle h) noexcept;
  const void* try_get(Handle h) const noexcept;
  bool is_valid(Handle h) const noexcept { return state(h) != HandleState::invalid; }
  HandleState state(Handle h) const noexcept;
  // The object's size as allocated; 0 when `h` is not valid.
  std::size_t size_of(Handle h) const noexcept;

  // Moves the object to the slow tier now; false when `h` is not valid. May grow the slow tier.
  bool promote(Handle h);
  // Compacts the fast tier (survivors age; old ones are promoted) and the slow tier (live
  // objects slide over the holes of freed ones). Handles stay valid.
  void compact();
  // Writes the slow tier back to its file and drops its pages from RAM (read back on access);
  // for an anonymous slow tier, asks the kernel to page it out. Returns the bytes advised.
  std::size_t spill();

  HandleArenaStats statistics() const noexcept;
  // The slow tier's region (its page report shows what is resident).
  const PlacedRegion& slow_region() const noexcept { return slow_.region; }

 private:
  struct Slot {
    std::uint64_t offset = 0;  // of the object in its tier
    std::uint32_t bytes = 0;
    std::uint32_t generation = 1;
    HandleState tier = HandleState::invalid;
    std::uint8_t age = 0;
  };
  struct Tier {
    PlacedRegion region;
    std::size_t used = 0;
    std::size_t live_bytes = 0;  // records of live objects
    std::size_t objects = 0;
  };

  const Slot* slot_of(Handle h) const noexcept;
  Tier& tier(HandleState which) noexcept { return which == HandleState::fast ? fast_ : slow_; }
  // Places a record for slot `index` in `which`; false when it does not fit.
  bool place(HandleState which, std::uint32_t index, std::size_t bytes);
  void grow_slow(std::size_t at_least);
  // Makes `need` bytes free at the slow tier's end: compacts it or grows it.
  void make_room_in_slow(std::size_t need);
  // Slides the tier's live records over the holes; in the fast tier, ages survivors and
  // promotes those past promote_after.
  void compact_tier(HandleState which);
  void move_to_slow(std::uint32_t index);
  PlacedRegion make_region(std::size_t bytes, bool slow);

  MemoryManager& memory_;
  HandleArenaOptions options_;
  Tier fast_;
  Tier slow_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::uint64_t compactions_ = 0;
  std::uint64_t promotions_ = 0;
  std::uint64_t relocations_ = 0;
};

// A handle to a T in a TypedHandleArena<T>.
template <class T>
struct TypedHandle {
  Handle raw;
  explicit operator bool() const noexcept { return static_cast<bool>(raw); }
  friend bool operator==(TypedHandle, TypedHandle) = default;
};

// Objects of one type over a HandleArena. T must be trivially copyable: the arena relocates
// objects by copying their bytes, and never runs a destructor.
template <class T>
class TypedHandleArena {
  static_assert(std::is_trivially_copyable_v<T>, "HandleArena relocates objects by their bytes");
  static_assert(alignof(T) <= HandleArena::kAlignment, "HandleArena aligns objects to 16 bytes");

 public:
  explicit TypedHandleArena(HandleArena& arena) noexcept : arena_(&arena) {}

  template <class... Args>
  TypedHandle<T> make(Args&&... args) {
    Handle h = arena_->allocate(sizeof(T));
    ::new (arena_->try_get(h)) T(std::forward<Args>(args)...);
    return {h};
  }
  T* try_get(TypedHandle<T> h) noexcept {
    return std::launder(static_cast<T*>(arena_->try_get(h.raw)));
  }
  bool is_valid(TypedHandle<T> h) const noexcept { return arena_->is_valid(h.raw); }
  HandleState state(TypedHandle<T> h) const noexcept { return arena_->state(h.raw); }
  bool destroy(TypedHandle<T> h) noexcept { return arena_->free(h.raw); }
  bool promote(TypedHandle<T> h) { return arena_->promote(h.raw); }
  HandleArena& arena() const noexcept { return *arena_; }

 private:
  HandleArena* arena_;
};

}  // namespace strata
