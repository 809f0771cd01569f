// SPDX-License-Identifier: Apache-2.0
// HandleArena: a slot table (offset, size, generation, tier, age) and two bump-allocated tiers
// of records — a 16-byte header naming the slot, then the object. Compaction walks a tier's
// records in address order; a record is live when its slot still points at it.
#include "strata/runtime/base/assert.hpp"
#include "strata/runtime/base/round_up.hpp"
#include "strata/runtime/memory/handle_arena.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "strata/runtime/base/error.hpp"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

namespace strata {
namespace {

struct RecordHeader {
  std::uint32_t slot;
  std::uint32_t bytes;
  std::uint64_t reserved;
};
static_assert(sizeof(RecordHeader) == HandleArena::kAlignment);

constexpr std::size_t kMinTierBytes = 64 * 1024;

std::size_t record_bytes(std::size_t bytes) noexcept {
  return sizeof(RecordHeader) + round_up(bytes, HandleArena::kAlignment);
}

}  // namespace

std::string_view to_string(HandleState state) noexcept {
  switch (state) {
    case HandleState::invalid:
      return "invalid";
    case HandleState::fast:
      return "fast";
    case HandleState::slow:
      return "slow";
  }
  return "invalid";
}

HandleArena::HandleArena(MemoryManager& memory, HandleArenaOptions options)
    : memory_(memory), options_(std::move(options)) {
  if (options_.fast_bytes < kMinTierBytes || options_.slow_bytes < kMinTierBytes) {
    throw Error(ErrorCategory::invalid_argument, "handle arena tiers need at least 64 KiB each",
                {{"fast_bytes", std::to_string(options_.fast_bytes)},
                 {"slow_bytes", std::to_string(options_.slow_bytes)}});
  }
  if (options_.promote_after > kMaxPromoteAfter) {
    throw Error(ErrorCategory::invalid_argument, "handle arena promote_after is at most 254",
                {{"promote_after", std::to_string(options_.promote_after)}});
  }
  if (!options_.slow_file.empty()) {
    int fd = ::open(options_.slow_file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      throw_system_error("cannot create the handle arena's slow-tier file", errno,
                         {{"file", options_.slow_file}});
    }
    ::close(fd);
  }
  fast_.region = make_region(options_.fast_bytes, false);
  slow_.region = make_region(options_.slow_bytes, true);
}

HandleArena::~HandleArena() {
  if (!options_.slow_file.empty()) {
    slow_.region = PlacedRegion();
    ::unlink(options_.slow_file.c_str());
  }
}

PlacedRegion HandleArena::make_region(std::size_t bytes, bool slow) {
  RegionOptions o{.placement = options_.placement, .largest_pages = PageSize::transparent};
  if (slow && !options_.slow_file.empty()) {
    o.largest_pages = PageSize::base;
    o.file = options_.slow_file;
  }
  return memory_.region(bytes, std::move(o));
}

const HandleArena::Slot* HandleArena::slot_of(Handle h) const noexcept {
  if (h.generation == 0 || h.index >= slots_.size()) return nullptr;
  const Slot& s = slots_[h.index];
  if (s.generation != h.generation || s.tier == HandleState::invalid) return nullptr;
  return &s;
}

bool HandleArena::place(HandleState which, std::uint32_t index, std::size_t bytes) {
  Tier& t = tier(which);
  STRATA_ASSERT(t.used <= t.region.size());
  STRATA_ASSERT(index < slots_.size());
  const std::size_t need = record_bytes(bytes);
  if (t.region.size() - t.used < need) return false;
  RecordHeader header{index, static_cast<std::uint32_t>(bytes), 0};
  std::memcpy(t.region.data() + t.used, &header, sizeof(header));
  Slot& s = slots_[index];
  s.offset = t.used + sizeof(RecordHeader);
  s.bytes = static_cast<std::uint32_t>(bytes);
  s.tier = which;
  t.used += need;
  t.live_bytes += need;
  ++t.objects;
  return true;
}

void HandleArena::grow_slow(std::size_t at_least) {
  std::size_t bytes = slow_.region.size();
  while (bytes < at_least) bytes *= 2;
  if (bytes == slow_.region.size()) bytes *= 2;
  PlacedRegion bigger = make_region(bytes, true);
  // A file-backed tier maps the same file: its records are already there.
  if (options_.slow_file.empty()) {
    std::memcpy(bigger.data(), slow_.region.data(), slow_.used);
    relocations_ += slow_.objects;
  }
  slow_.region = std::move(bigger);
}

void HandleArena::make_room_in_slow(std::size_t need) {
  if (slow_.region.size() - slow_.used >= need) return;
  // Compact when that frees enough to stay at most half full; grow otherwise.
  if (slow_.live_bytes + need <= slow_.region.size() / 2) compact_tier(HandleState::slow);
  if (slow_.region.size() - slow_.used < need) grow_slow(slow_.used + need);
}

Handle HandleArena::allocate(std::size_t bytes) {
  if (bytes == 0 || bytes > UINT32_MAX) {
    throw Error(ErrorCategory::invalid_argument, "handle arena objects hold 1 byte to 4 GiB",
                {{"bytes", std::to_string(bytes)}});
  }
  std::uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (slots_.size() >= UINT32_MAX) {
      throw Error(ErrorCategory::resource, "handle arena is out of handles");
    }
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  try {
    bool placed = false;
    if (record_bytes(bytes) <= options_.fast_bytes / kLargeFraction) {
      placed = place(HandleState::fast, index, bytes);
      if (!placed) {
        compact_tier(HandleState::fast);
        placed = place(HandleState::fast, index, bytes);
      }
    }
    if (!placed) {
      make_room_in_slow(record_bytes(bytes));
      place(HandleState::slow, index, bytes);
    }
  } catch (...) {
    free_slots_.push_back(index);
    throw;
  }
  slots_[index].age = 0;
  return Handle{index, slots_[index].generation};
}

bool HandleArena::free(Handle h) noexcept {
  if (slot_of(h) == nullptr) return false;
  Slot& s = slots_[h.index];
  Tier& t = tier(s.tier);
  STRATA_ASSERT(t.objects > 0 && t.live_bytes >= record_bytes(s.bytes));
  t.live_bytes -= record_bytes(s.bytes);
  --t.objects;
  s.tier = HandleState::invalid;
  if (++s.generation == 0) s.generation = 1;  // 0 is the null handle's
  free_slots_.push_back(h.index);
  return true;
}

void* HandleArena::try_get(Handle h) noexcept {
  const Slot* s = slot_of(h);
  return s == nullptr ? nullptr : tier(s->tier).region.data() + s->offset;
}

const void* HandleArena::try_get(Handle h) const noexcept {
  return const_cast<HandleArena*>(this)->try_get(h);
}

HandleState HandleArena::state(Handle h) const noexcept {
  const Slot* s = slot_of(h);
  return s == nullptr ? HandleState::invalid : s->tier;
}

std::size_t HandleArena::size_of(Handle h) const noexcept {
  const Slot* s = slot_of(h);
  return s == nullptr ? 0 : s->bytes;
}

void HandleArena::move_to_slow(std::uint32_t index) {
  Slot& s = slots_[index];
  const std::size_t from_offset = s.offset;
  const std::size_t bytes = s.bytes;
  make_room_in_slow(record_bytes(bytes));
  // The fast record stays behind as a hole (its slot no longer points at it).
  fast_.live_bytes -= record_bytes(bytes);
  --fast_.objects;
  const std::byte* from = fast_.region.data() + from_offset;
  place(HandleState::slow, index, bytes);
  std::memcpy(slow_.region.data() + s.offset, from, bytes);
  ++promotions_;
  ++relocations_;
}

bool HandleArena::promote(Handle h) {
  const Slot* s = slot_of(h);
  if (s == nullptr) return false;
  if (s->tier == HandleState::fast) move_to_slow(h.index);
  return true;
}

void HandleArena::compact_tier(HandleState which) {
  ++compactions_;
  Tier& t = tier(which);
  std::size_t read = 0, write = 0;
  while (read < t.used) {
    RecordHeader header;
    std::memcpy(&header, t.region.data() + read, sizeof(header));
    const std::size_t size = record_bytes(header.bytes);
    STRATA_ASSERT(header.slot < slots_.size() && read + size <= t.used);
    Slot& s = slots_[header.slot];
    const bool live = s.tier == which && s.offset == read + sizeof(RecordHeader);
    // Fast-tier survivors age; the old move out (their record becomes a hole here). Only the
    // slow tier changes meanwhile, never the fast region this loop reads.
    if (live && which == HandleState::fast && ++s.age > options_.promote_after) {
      move_to_slow(header.slot);
    } else if (live) {
      if (write != read) {
        std::memmove(t.region.data() + write, t.region.data() + read, size);
        s.offset = write + sizeof(RecordHeader);
        ++relocations_;
      }
      write += size;
    }
    read += size;
  }
  t.used = write;
}

void HandleArena::compact() {
  compact_tier(HandleState::fast);
  compact_tier(HandleState::slow);
}

std::size_t HandleArena::spill() {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t bytes = round_up(slow_.used, page);
  if (bytes == 0) return 0;
  void* base = slow_.region.data();
  if (options_.slow_file.empty()) {
    ::madvise(base, bytes, MADV_PAGEOUT);  // best effort: needs swap and Linux 5.4
    return bytes;
  }
  if (::msync(base, bytes, MS_SYNC) != 0) {
    throw_system_error("cannot write the slow tier back to its file", errno,
                       {{"file", options_.slow_file}});
  }
  ::madvise(base, bytes, MADV_DONTNEED);  // shared file mapping: pages re-read on access
  if (int fd = ::open(options_.slow_file.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    ::posix_fadvise(fd, 0, static_cast<off_t>(bytes), POSIX_FADV_DONTNEED);  // and the page cache
    ::close(fd);
  }
  return bytes;
}

HandleArenaStats HandleArena::statistics() const noexcept {
  HandleArenaStats s;
  s.fast_objects = fast_.objects;
  s.slow_objects = slow_.objects;
  s.fast_used_bytes = fast_.used;
  s.fast_capacity_bytes = fast_.region.size();
  s.slow_used_bytes = slow_.used;
  s.slow_live_bytes = slow_.live_bytes;
  s.slow_capacity_bytes = slow_.region.size();
  s.compactions = compactions_;
  s.promotions = promotions_;
  s.relocations = relocations_;
  return s;
}

}  // namespace strata
