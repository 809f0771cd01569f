// SPDX-License-Identifier: Apache-2.0
// HandleArena: long-lived simulation objects behind stable handles instead of pointers, so the
// arena may move them — compaction, promotion from a fast tier for young objects to a slow tier
// for old ones, growth — without invalidating anything a caller holds. A handle carries a
// generation: once its object is freed the handle goes stale and every lookup says so, even
// after the slot is reused. The slow tier may be a mapped file, so cold objects live on disk and
// the page cache, not in the process's RAM (spill()).
//
// Thread-safe: any thread (oneTBB workers included) may allocate, read, write, free, promote and
// compact at once. Reads take no lock: inside a read guard (the arena's EpochDomain) get()
// returns a pointer that stays valid until the guard ends, even when a compaction moves the
// object meanwhile (the old copy is retired through the epoch domain, not reused). Writes pin
// the object with a write guard, which a relocation waits for, so no write lands in a copy
// being left behind.
//
//   strata::HandleArena arena(rt.memory(), {.slow_file = "/scratch/cells.slow"});
//   strata::TypedHandleArena<Cell> cells(arena);
//   auto h = cells.make(Cell{...});
//   { auto guard = arena.read();  if (const Cell* c = cells.get(guard, h)) use(c->mass); }
//   { auto w = cells.write(h);    if (w) w->mass += dm; }     // pinned until w ends
//   arena.compact();                                          // any thread, readers keep going
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/runtime/memory/memory_manager.hpp"
#include "strata/runtime/memory/placed_region.hpp"
#include "strata/runtime/memory/placement.hpp"
#include "strata/runtime/sync/epoch_domain.hpp"

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
  // The slow tier's first size; it grows (doubling) when compaction alone would leave it fuller
  // than slow_usage_limit.
  std::size_t slow_bytes = std::size_t{16} << 20;
  // When non-empty, the slow tier is this file, mapped shared (created or truncated now, removed
  // with the arena): the kernel may write its cold pages back and drop them from RAM.
  std::string slow_file;
  // Fast-tier compactions an object survives before it is promoted to the slow tier, at most
  // HandleArena::kMaxPromoteAfter (254); more is refused.
  unsigned promote_after = 2;
  // When to switch lanes: objects of at least this many bytes go straight to the slow tier.
  // 0 means fast_bytes / HandleArena::kLargeFraction (1 MiB of the default 4 MiB), so one large
  // object cannot force a compaction of the fast tier every few allocations.
  std::size_t slow_lane_bytes = 0;
  // An allocation compacts the fast tier when it would fill more than this fraction of it
  // (0 < f <= 1). Below 1 the copy happens while some room is left for allocations that race it.
  double compact_at = 0.9;
  // When false, allocations never compact: a full fast tier sends new objects to the slow tier
  // until compact() is called (a job that compacts at its own quiet points).
  bool auto_compact = true;
  // The slow tier compacts in place of growing only when its live objects and the new one fill
  // at most this fraction of it (0 < f <= 1); else it doubles until they do. 0.5 copies at most
  // one byte per byte allocated; nearer 1 saves memory and copies more often.
  double slow_usage_limit = 0.5;
  // compact() copies the slow tier only when at least this fraction of its used bytes are holes
  // left by freed or promoted objects (0 <= f < 1; 0 copies it whenever it has any): old objects
  // are not moved, and readers' caches not emptied, to win back a few bytes.
  double slow_compact_garbage = 0.25;
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
  // The default slow_lane_bytes is fast_bytes / kLargeFraction.
  static constexpr std::size_t kLargeFraction = 4;
  // The largest promote_after (HandleArenaOptions).
  static constexpr unsigned kMaxPromoteAfter = 254;

  // Reserves both tiers from `memory` (counted in its statistics). Throws Error(invalid_argument)
  // for a tier under 64 KiB or a fraction out of its range, Error(io) or Error(resource) when the
  // file or memory is refused.
  explicit HandleArena(MemoryManager& memory, HandleArenaOptions options = {});
  HandleArena(const HandleArena&) = delete;
  HandleArena& operator=(const HandleArena&) = delete;
  // No thread may use the arena any more, nor hold a guard on it.
  ~HandleArena();

  // A new object of `bytes` (uninitialised) in the fast tier, or the slow one when large. May
  // compact or grow (moving objects; readers are not disturbed, writers are waited for). Throws
  // Error(invalid_argument) for 0 or more than 4 GiB, or when the calling thread holds a write
  // guard on this arena (a relocation would wait for it forever); Error(resource) when the slow
  // tier cannot grow.
  Handle allocate(std::size_t bytes);
  // Frees the object; false when `h` is not valid (already freed, null, unknown). Readers that
  // still hold its pointer keep reading its last bytes until their guard ends.
  bool free(Handle h) noexcept;

  // A read-side section of the arena: pointers from get() stay valid until it ends. Cheap (a
  // store to the thread's own record); hold it briefly, since relocated copies are kept until
  // every section that could see them has ended.
  using ReadGuard = EpochDomain::ReadGuard;
  ReadGuard read() { return domain_.read(); }
  // The object, or nullptr when `h` is not valid. Takes no lock. Read only: a write through it
  // could land in a copy a concurrent compaction is leaving behind (use write()).
  const void* get(const ReadGuard&, Handle h) const noexcept {
    std::byte* p = nullptr;
    return live_slot(h, &p) == nullptr ? nullptr : p;
  }

  // Pins one object for writing: no relocation moves it until the guard ends (a compaction
  // waits), and the memory stays mapped even if another thread frees it. Empty (false) when `h`
  // is not valid. Hold it briefly, and call no allocate, promote or compact on this arena while
  // holding one (they throw; while a thread holds guards on several arenas, on any of them).
  // Not to be moved to another thread.
  class WriteGuard {
   public:
    WriteGuard() = default;
    WriteGuard(WriteGuard&& other) noexcept;
    WriteGuard(const WriteGuard&) = delete;
    WriteGuard& operator=(const WriteGuard&) = delete;
    WriteGuard& operator=(WriteGuard&&) = delete;
    ~WriteGuard();
    void* data() const noexcept { return data_; }
    explicit operator bool() const noexcept { return data_ != nullptr; }

   private:
    friend class HandleArena;
    std::optional<EpochDomain::ReadGuard> read_;
    std::atomic<std::uint64_t>* pin_ = nullptr;
    void* data_ = nullptr;
  };
  WriteGuard write(Handle h);

  // The object without a guard, or nullptr when `h` is not valid: for an arena one thread owns.
  // Valid until the next allocate, promote or compact on this arena by any thread.
  void* try_get(Handle h) noexcept {
    std::byte* p = nullptr;
    return live_slot(h, &p) == nullptr ? nullptr : p;
  }
  const void* try_get(Handle h) const noexcept {
    return const_cast<HandleArena*>(this)->try_get(h);
  }
  bool is_valid(Handle h) const noexcept { return state(h) != HandleState::invalid; }
  HandleState state(Handle h) const noexcept {
    const std::uint64_t w = word_of(h);
    if (!holds(w, h)) return HandleState::invalid;
    return (w & kSlowBit) != 0 ? HandleState::slow : HandleState::fast;
  }
  // The object's size as allocated; 0 when `h` is not valid.
  std::size_t size_of(Handle h) const noexcept;

  // Moves the object to the slow tier now; false when `h` is not valid. May grow the slow tier.
  // Throws as allocate() does when the calling thread holds a write guard on this arena.
  bool promote(Handle h);
  // Compacts the fast tier when it holds anything (survivors age; old ones are promoted) and the
  // slow tier when slow_compact_garbage of it is holes (live objects are copied together into a
  // fresh region; the old one is retired). Handles stay valid; readers keep reading meanwhile.
  // Throws as allocate() does inside a write guard.
  void compact();
  // Writes the slow tier back to its file and drops its pages from RAM (read back on access);
  // for an anonymous slow tier, asks the kernel to page it out. Returns the bytes advised.
  std::size_t spill();

  HandleArenaStats statistics() const;
  // The slow tier's region (its page report shows what is resident). Replaced by a compaction
  // or growth of the slow tier: for an arena one thread owns, or between such calls.
  const PlacedRegion& slow_region() const noexcept { return *slow_.region; }
  // The epoch domain that protects readers and retires relocated copies.
  EpochDomain& domain() noexcept { return domain_; }

 private:
  struct Tier {
    std::unique_ptr<PlacedRegion> region;
    std::size_t used = 0;
    std::size_t live_bytes = 0;  // records of live objects
    std::size_t objects = 0;
    HandleState which = HandleState::invalid;
  };
  // A slot: the state word (generation in the high 32 bits, then the live, moving and slow-tier
  // bits, then a count of write pins) and the object's address. 16 bytes, four to a cache line;
  // the object's size and age are in its record header.
  struct Slot {
    std::atomic<std::uint64_t> word{0};
    std::atomic<std::byte*> address{nullptr};
  };
  static constexpr std::uint64_t kLiveBit = std::uint64_t{1} << 31;
  static constexpr std::uint64_t kMovingBit = std::uint64_t{1} << 30;
  static constexpr std::uint64_t kSlowBit = std::uint64_t{1} << 29;
  static constexpr std::uint64_t kPinMask = kSlowBit - 1;
  // The slot table grows in segments that never move (readers index it without a lock):
  // segment k holds 2^(kFirstSegmentBits + k) slots.
  static constexpr unsigned kFirstSegmentBits = 10;
  static constexpr unsigned kSegments = 33 - kFirstSegmentBits;

  static bool holds(std::uint64_t word, Handle h) noexcept {
    return (word & kLiveBit) != 0 && static_cast<std::uint32_t>(word >> 32) == h.generation;
  }
  Slot* slot_at(std::uint32_t index) const noexcept {
    const std::uint64_t x = std::uint64_t{index} + (std::uint64_t{1} << kFirstSegmentBits);
    const int top = static_cast<int>(std::bit_width(x)) - 1;
    Slot* segment =
        segments_[top - static_cast<int>(kFirstSegmentBits)].load(std::memory_order_acquire);
    return segment == nullptr ? nullptr : segment + (x - (std::uint64_t{1} << top));
  }
  // The state word of h's slot (0 when there is none).
  std::uint64_t word_of(Handle h) const noexcept {
    const Slot* s = h.generation == 0 ? nullptr : slot_at(h.index);
    return s == nullptr ? 0 : s->word.load(std::memory_order_acquire);
  }
  // The slot and object address of a live `h`, read without a lock; nullptr when not valid.
  Slot* live_slot(Handle h, std::byte** address) const noexcept {
    if (h.generation == 0) return nullptr;
    Slot* s = slot_at(h.index);
    if (s == nullptr || !holds(s->word.load(std::memory_order_acquire), h)) return nullptr;
    std::byte* p = s->address.load(std::memory_order_acquire);
    // Still this generation after the address was read: the address is this object's (current,
    // or a relocated copy the epoch domain keeps), never a later object's in the same slot.
    if (!holds(s->word.load(std::memory_order_acquire), h)) return nullptr;
    *address = p;
    return s;
  }
  static bool record_is_live(const Slot& s, const std::byte* object) noexcept;
  Tier& tier(HandleState which) noexcept { return which == HandleState::fast ? fast_ : slow_; }
  void check_not_writing(const char* what) const;
  std::uint32_t take_slot();
  // Places a record for slot `index` in `which` and returns the object's address; the tier must
  // have room.
  std::byte* place(Tier& t, std::uint32_t index, std::size_t bytes, unsigned age);
  // Copies an object to `to` and publishes it there, waiting for its write guards first.
  // Sets the slot's slow-tier bit with the move when `to_slow`.
  void relocate(Slot& s, std::byte* to, const std::byte* from, std::size_t bytes,
                bool to_slow) noexcept;
  // Makes `need` bytes free at the slow tier's end: compacts it or grows it.
  void make_room_in_slow(std::size_t need);
  // Copies the tier's live records into a fresh region of `capacity` bytes and retires the old
  // one; in the fast tier, ages survivors and promotes those past promote_after (the slow tier
  // must have room for them). Throws only before anything moved.
  void rebuild_tier(Tier& t, std::size_t capacity);
  void compact_fast();
  void move_to_slow(std::uint32_t index, std::byte* from, std::size_t bytes);
  std::unique_ptr<PlacedRegion> make_region(std::size_t bytes, bool slow, const std::string& file);
  // Hands the regions retired under the lock to the epoch domain (after unlocking: the domain
  // may wait for readers); once no reader can see one, it becomes a spare (recycle()).
  void retire_regions(std::vector<std::unique_ptr<PlacedRegion>> regions);
  void recycle(std::unique_ptr<PlacedRegion> region) noexcept;
  // Anonymous regions kept for the next compaction instead of being unmapped and mapped again
  // (no page faults, no unmap's TLB shootdown on the readers' CPUs).
  static constexpr std::size_t kSpareRegions = 4;

  MemoryManager& memory_;
  HandleArenaOptions options_;
  std::size_t slow_lane_bytes_ = 0;
  std::string slow_path_;   // the file backing the slow tier now (slow_file, or its .next twin)
  std::mutex spare_mutex_;  // declared before domain_: its destructor recycles into spares_
  std::vector<std::unique_ptr<PlacedRegion>> spares_;
  mutable EpochDomain domain_;  // size_of reads a record header inside a section of it
  mutable std::mutex mutex_;    // allocate, free, promote, compact, spill, statistics
  Tier fast_;
  Tier slow_;
  std::atomic<Slot*> segments_[kSegments] = {};
  std::uint64_t slot_count_ = 0;
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::unique_ptr<PlacedRegion>> retired_;
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

  // A T pinned for writing (HandleArena::WriteGuard); false when the handle was not valid.
  class Write {
   public:
    T* get() const noexcept { return std::launder(static_cast<T*>(guard_.data())); }
    T* operator->() const noexcept { return get(); }
    T& operator*() const noexcept { return *get(); }
    explicit operator bool() const noexcept { return static_cast<bool>(guard_); }

   private:
    friend class TypedHandleArena;
    explicit Write(HandleArena::WriteGuard guard) noexcept : guard_(std::move(guard)) {}
    HandleArena::WriteGuard guard_;
  };

  template <class... Args>
  TypedHandle<T> make(Args&&... args) {
    Handle h = arena_->allocate(sizeof(T));
    HandleArena::WriteGuard w = arena_->write(h);
    ::new (w.data()) T(std::forward<Args>(args)...);
    return {h};
  }
  const T* get(const HandleArena::ReadGuard& guard, TypedHandle<T> h) const noexcept {
    return std::launder(static_cast<const T*>(arena_->get(guard, h.raw)));
  }
  Write write(TypedHandle<T> h) { return Write(arena_->write(h.raw)); }
  // Unguarded, for an arena one thread owns (HandleArena::try_get).
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
