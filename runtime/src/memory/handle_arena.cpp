// SPDX-License-Identifier: Apache-2.0
// HandleArena: a slot table that never moves (segments) and two bump-allocated tiers of records —
// a 16-byte header (slot, size, age), then the object. A slot's state word packs the generation,
// the live, moving and slow-tier bits and a count of write pins; readers check it before and
// after loading the object's address (inline, in the header), so a freed or reused slot is never
// mistaken for the handle's object.
// Mutations are serialised by one lock; compaction copies a tier's live records into a fresh
// region and retires the old one through the epoch domain, so no reader's pointer is overwritten.
#include "strata/runtime/memory/handle_arena.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <thread>

#include "strata/runtime/base/assert.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/round_up.hpp"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

namespace strata {

namespace {

std::uint32_t generation_of(std::uint64_t word) noexcept {
  return static_cast<std::uint32_t>(word >> 32);
}

struct RecordHeader {
  std::uint32_t slot;
  std::uint32_t bytes;
  std::uint32_t age;  // fast-tier compactions survived
  std::uint32_t reserved;
};
static_assert(sizeof(RecordHeader) == HandleArena::kAlignment);

constexpr std::size_t kMinTierBytes = 64 * 1024;

std::size_t record_bytes(std::size_t bytes) noexcept {
  return sizeof(RecordHeader) + round_up(bytes, HandleArena::kAlignment);
}

RecordHeader header_of(const std::byte* object) noexcept {
  RecordHeader header;
  std::memcpy(&header, object - sizeof(RecordHeader), sizeof(header));
  return header;
}

// Write guards the calling thread holds, and on which arena (kManyArenas when on several).
const void* const kManyArenas = &kManyArenas;
thread_local const void* guarded_arena = nullptr;
thread_local unsigned write_guards_held = 0;

void pause_briefly(unsigned& spins) noexcept {
  if (++spins % 64 == 0) std::this_thread::yield();  // the pin holder may need this CPU
}

}  // namespace

// Under the arena's lock, in a tier being walked: the record of `object` is live when its slot is
// live and still points at it (a freed object's slot does not; a promoted one points elsewhere).
bool HandleArena::record_is_live(const Slot& s, const std::byte* object) noexcept {
  return (s.word.load(std::memory_order_relaxed) & kLiveBit) != 0 &&
         s.address.load(std::memory_order_relaxed) == object;
}

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
  auto fraction_ok = [](double f) { return f > 0.0 && f <= 1.0; };
  if (!fraction_ok(options_.compact_at) || !fraction_ok(options_.slow_usage_limit) ||
      !(options_.slow_compact_garbage >= 0.0 && options_.slow_compact_garbage < 1.0)) {
    throw Error(ErrorCategory::invalid_argument,
                "handle arena compact_at and slow_usage_limit are fractions in (0, 1], "
                "slow_compact_garbage in [0, 1)",
                {{"compact_at", std::to_string(options_.compact_at)},
                 {"slow_usage_limit", std::to_string(options_.slow_usage_limit)},
                 {"slow_compact_garbage", std::to_string(options_.slow_compact_garbage)}});
  }
  slow_lane_bytes_ = options_.slow_lane_bytes != 0 ? options_.slow_lane_bytes
                                                   : options_.fast_bytes / kLargeFraction;
  if (!options_.slow_file.empty()) {
    int fd = ::open(options_.slow_file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      throw_system_error("cannot create the handle arena's slow-tier file", errno,
                         {{"file", options_.slow_file}});
    }
    ::close(fd);
    slow_path_ = options_.slow_file;
  }
  spares_.reserve(kSpareRegions);
  fast_.which = HandleState::fast;
  slow_.which = HandleState::slow;
  fast_.region = make_region(options_.fast_bytes, false, {});
  slow_.region = make_region(options_.slow_bytes, true, slow_path_);
}

HandleArena::~HandleArena() {
  slow_.region.reset();
  for (auto& segment : segments_) delete[] segment.load(std::memory_order_relaxed);
  if (!slow_path_.empty()) ::unlink(slow_path_.c_str());
  // domain_ is destroyed after this body: it frees the retired regions (no reader is left).
}

std::unique_ptr<PlacedRegion> HandleArena::make_region(std::size_t bytes, bool slow,
                                                       const std::string& file) {
  if (file.empty()) {
    std::lock_guard lock(spare_mutex_);
    auto it = std::find_if(spares_.begin(), spares_.end(),
                           [bytes](const auto& r) { return r->size() == bytes; });
    if (it != spares_.end()) {
      std::unique_ptr<PlacedRegion> r = std::move(*it);
      spares_.erase(it);
      return r;
    }
  }
  RegionOptions o{.placement = options_.placement, .largest_pages = PageSize::transparent};
  if (slow && !file.empty()) {
    o.largest_pages = PageSize::base;
    o.file = file;
  }
  return std::make_unique<PlacedRegion>(memory_.region(bytes, std::move(o)));
}

namespace {
struct RetiredRegion {
  HandleArena* arena;
  std::unique_ptr<PlacedRegion> region;
};
}  // namespace

void HandleArena::retire_regions(std::vector<std::unique_ptr<PlacedRegion>> regions) {
  if (regions.empty()) return;
  for (auto& r : regions) {
    auto* retired = new RetiredRegion{this, std::move(r)};
    domain_.retire(retired, [](void* p) {
      std::unique_ptr<RetiredRegion> due(static_cast<RetiredRegion*>(p));
      due->arena->recycle(std::move(due->region));
    });
  }
  // A compaction retires a whole tier: have it back as soon as the readers allow, rather than
  // after the domain's usual 64 pending objects.
  domain_.reclaim();
}

void HandleArena::recycle(std::unique_ptr<PlacedRegion> region) noexcept {
  if (!region->file().empty()) return;  // its file is gone (renamed over): unmap it
  std::lock_guard lock(spare_mutex_);
  if (spares_.size() < kSpareRegions) spares_.push_back(std::move(region));  // reserved: no throw
}

void HandleArena::check_not_writing(const char* what) const {
  if (write_guards_held != 0 && (guarded_arena == this || guarded_arena == kManyArenas)) {
    throw Error(ErrorCategory::invalid_argument,
                std::string("handle arena ") + what +
                    " while this thread holds a write guard on it (a relocation would wait for "
                    "the guard forever)");
  }
}

std::uint32_t HandleArena::take_slot() {
  if (!free_slots_.empty()) {
    std::uint32_t index = free_slots_.back();
    free_slots_.pop_back();
    return index;
  }
  if (slot_count_ >= UINT32_MAX) {
    throw Error(ErrorCategory::resource, "handle arena is out of handles");
  }
  const auto index = static_cast<std::uint32_t>(slot_count_);
  const std::uint64_t x = slot_count_ + (std::uint64_t{1} << kFirstSegmentBits);
  const unsigned top = static_cast<unsigned>(std::bit_width(x)) - 1;
  auto& segment = segments_[top - kFirstSegmentBits];
  if (segment.load(std::memory_order_relaxed) == nullptr) {
    segment.store(new Slot[std::size_t{1} << top], std::memory_order_release);
  }
  ++slot_count_;
  return index;
}

std::byte* HandleArena::place(Tier& t, std::uint32_t index, std::size_t bytes, unsigned age) {
  const std::size_t need = record_bytes(bytes);
  STRATA_ASSERT(t.region->size() - t.used >= need);
  RecordHeader header{index, static_cast<std::uint32_t>(bytes), age, 0};
  std::byte* record = t.region->data() + t.used;
  std::memcpy(record, &header, sizeof(header));
  t.used += need;
  t.live_bytes += need;
  ++t.objects;
  return record + sizeof(RecordHeader);
}

void HandleArena::relocate(Slot& s, std::byte* to, const std::byte* from, std::size_t bytes,
                           bool to_slow) noexcept {
  // Claim the object: no write pin held, none can start until the move is published.
  unsigned spins = 0;
  std::uint64_t w = s.word.load(std::memory_order_relaxed);
  while (true) {
    if ((w & kPinMask) != 0) {
      pause_briefly(spins);
      w = s.word.load(std::memory_order_relaxed);
      continue;
    }
    if (s.word.compare_exchange_weak(w, w | kMovingBit, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
      break;
    }
  }
  std::memcpy(to, from, bytes);
  s.address.store(to, std::memory_order_release);
  // Clears the moving bit (set) and sets the slow bit (clear) in one step when promoting.
  s.word.fetch_xor(kMovingBit | (to_slow ? kSlowBit : 0), std::memory_order_release);
  ++relocations_;
}

void HandleArena::make_room_in_slow(std::size_t need) {
  const std::size_t capacity = slow_.region->size();
  if (capacity - slow_.used >= need) return;
  const auto fits = [&](std::size_t c) {
    return static_cast<double>(slow_.live_bytes + need) <=
           options_.slow_usage_limit * static_cast<double>(c);
  };
  std::size_t next = capacity;
  while (!fits(next) || next - slow_.live_bytes < need) {
    if (next > (std::size_t{1} << 46)) {
      throw Error(ErrorCategory::resource, "handle arena slow tier cannot grow further",
                  {{"bytes", std::to_string(next)}});
    }
    next *= 2;
  }
  rebuild_tier(slow_, next);
}

void HandleArena::rebuild_tier(Tier& t, std::size_t capacity) {
  const bool fast = t.which == HandleState::fast;
  std::string file;
  if (!fast && !slow_path_.empty()) {
    // A fresh file beside the current one, renamed over the slow_file path once filled: readers
    // keep the old mapping (of a file no longer named) until the epoch domain frees it.
    file = slow_path_ == options_.slow_file ? options_.slow_file + ".next" : options_.slow_file;
    ::unlink(file.c_str());
  }
  std::unique_ptr<PlacedRegion> old = std::move(t.region);
  try {
    t.region = make_region(capacity, !fast, file);
  } catch (...) {
    t.region = std::move(old);
    throw;
  }
  ++compactions_;
  const std::size_t old_used = t.used;
  t.used = 0;
  t.live_bytes = 0;
  t.objects = 0;
  std::byte* base = old->data();
  for (std::size_t read = 0; read < old_used;) {
    RecordHeader header;
    std::memcpy(&header, base + read, sizeof(header));
    const std::size_t size = record_bytes(header.bytes);
    STRATA_ASSERT(header.slot < slot_count_ && read + size <= old_used);
    Slot& s = *slot_at(header.slot);
    std::byte* object = base + read + sizeof(RecordHeader);
    read += size;
    if (!record_is_live(s, object)) continue;
    const unsigned age = fast ? header.age + 1 : header.age;
    if (fast && age > options_.promote_after) {
      move_to_slow(header.slot, object, header.bytes);  // compact_fast made room for it
    } else {
      relocate(s, place(t, header.slot, header.bytes, age), object, header.bytes, false);
    }
  }
  if (!file.empty()) {
    if (file != options_.slow_file && ::rename(file.c_str(), options_.slow_file.c_str()) == 0) {
      file = options_.slow_file;
    }
    slow_path_ = file;
  }
  retired_.push_back(std::move(old));
}

void HandleArena::compact_fast() {
  // Room in the slow tier for every survivor that will be promoted, made first, so the copy
  // below cannot fail half way.
  std::size_t promoted_bytes = 0;
  const std::byte* base = fast_.region->data();
  for (std::size_t read = 0; read < fast_.used;) {
    RecordHeader header;
    std::memcpy(&header, base + read, sizeof(header));
    const bool live = record_is_live(*slot_at(header.slot), base + read + sizeof(header));
    if (live && header.age + 1 > options_.promote_after) {
      promoted_bytes += record_bytes(header.bytes);
    }
    read += record_bytes(header.bytes);
  }
  if (promoted_bytes != 0) make_room_in_slow(promoted_bytes);
  rebuild_tier(fast_, fast_.region->size());
}

void HandleArena::move_to_slow(std::uint32_t index, std::byte* from, std::size_t bytes) {
  relocate(*slot_at(index), place(slow_, index, bytes, 0), from, bytes, true);
  ++promotions_;
}

Handle HandleArena::allocate(std::size_t bytes) {
  if (bytes == 0 || bytes > UINT32_MAX) {
    throw Error(ErrorCategory::invalid_argument, "handle arena objects hold 1 byte to 4 GiB",
                {{"bytes", std::to_string(bytes)}});
  }
  check_not_writing("allocate");
  const std::size_t need = record_bytes(bytes);
  Handle h;
  std::vector<std::unique_ptr<PlacedRegion>> retired;
  {
    std::lock_guard lock(mutex_);
    const std::uint32_t index = take_slot();
    Slot& s = *slot_at(index);
    std::byte* object = nullptr;
    std::uint64_t tier_bit = 0;
    try {
      const std::size_t capacity = fast_.region->size();
      if (bytes < slow_lane_bytes_ && need <= capacity) {
        const auto over_threshold = [&] {
          return static_cast<double>(fast_.used + need) >
                 options_.compact_at * static_cast<double>(capacity);
        };
        if (options_.auto_compact && fast_.used != 0 && over_threshold()) compact_fast();
        if (capacity - fast_.used >= need) object = place(fast_, index, bytes, 0);
      }
      if (object == nullptr) {
        make_room_in_slow(need);
        object = place(slow_, index, bytes, 0);
        tier_bit = kSlowBit;
      }
    } catch (...) {
      free_slots_.push_back(index);
      throw;
    }
    s.address.store(object, std::memory_order_release);
    // A reused slot's generation moved on when it was freed; a fresh one starts at 1.
    if (generation_of(s.word.load(std::memory_order_relaxed)) == 0) {
      s.word.store((std::uint64_t{1} << 32) | kLiveBit | tier_bit, std::memory_order_release);
    } else {
      s.word.fetch_or(kLiveBit | tier_bit, std::memory_order_release);
    }
    h = Handle{index, generation_of(s.word.load(std::memory_order_relaxed))};
    retired.swap(retired_);
  }
  retire_regions(std::move(retired));
  return h;
}

bool HandleArena::free(Handle h) noexcept {
  std::lock_guard lock(mutex_);
  std::byte* object = nullptr;
  Slot* live = live_slot(h, &object);
  if (live == nullptr) return false;
  Slot& s = *live;
  Tier& t = tier(state(h));
  const std::size_t record = record_bytes(header_of(object).bytes);
  STRATA_ASSERT(t.objects > 0 && t.live_bytes >= record);
  t.live_bytes -= record;
  --t.objects;
  // The next generation, dead; write pins still held on the old object stay counted.
  std::uint64_t w = s.word.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    std::uint32_t g = generation_of(w) + 1;
    if (g == 0) g = 1;  // 0 is the null handle's
    next = (std::uint64_t{g} << 32) | (w & kPinMask);
  } while (
      !s.word.compare_exchange_weak(w, next, std::memory_order_release, std::memory_order_relaxed));
  free_slots_.push_back(h.index);
  return true;
}

HandleArena::WriteGuard HandleArena::write(Handle h) {
  WriteGuard g;
  g.read_.emplace(domain_);
  if (h.generation == 0) return WriteGuard();
  Slot* s = slot_at(h.index);
  if (s == nullptr) return WriteGuard();
  std::uint64_t w = s->word.load(std::memory_order_acquire);
  unsigned spins = 0;
  while (true) {
    if (!holds(w, h)) return WriteGuard();
    if ((w & kMovingBit) != 0 || (w & kPinMask) == kPinMask) {
      pause_briefly(spins);
      w = s->word.load(std::memory_order_acquire);
      continue;
    }
    if (s->word.compare_exchange_weak(w, w + 1, std::memory_order_acquire,
                                      std::memory_order_acquire)) {
      break;
    }
  }
  g.pin_ = &s->word;
  g.data_ = s->address.load(std::memory_order_acquire);
  guarded_arena = write_guards_held == 0 || guarded_arena == this ? this : kManyArenas;
  ++write_guards_held;
  return g;
}

HandleArena::WriteGuard::WriteGuard(WriteGuard&& other) noexcept
    : read_(std::move(other.read_)),
      pin_(std::exchange(other.pin_, nullptr)),
      data_(std::exchange(other.data_, nullptr)) {
  other.read_.reset();
}

HandleArena::WriteGuard::~WriteGuard() {
  if (pin_ == nullptr) return;
  pin_->fetch_sub(1, std::memory_order_release);  // the writes happen before a later move
  if (--write_guards_held == 0) guarded_arena = nullptr;
}

std::size_t HandleArena::size_of(Handle h) const noexcept {
  // The size is in the record header, which a compaction may retire: read it inside a section.
  auto guard = domain_.read();
  std::byte* object = nullptr;
  return live_slot(h, &object) == nullptr ? 0 : header_of(object).bytes;
}

bool HandleArena::promote(Handle h) {
  check_not_writing("promote");
  std::vector<std::unique_ptr<PlacedRegion>> retired;
  bool valid = false;
  {
    std::lock_guard lock(mutex_);
    std::byte* from = nullptr;
    if (live_slot(h, &from) != nullptr) {
      valid = true;
      if (state(h) == HandleState::fast) {
        const std::size_t bytes = header_of(from).bytes;
        make_room_in_slow(record_bytes(bytes));
        // The fast record stays behind as a hole (its slot no longer points at it).
        fast_.live_bytes -= record_bytes(bytes);
        --fast_.objects;
        move_to_slow(h.index, from, bytes);
      }
    }
    retired.swap(retired_);
  }
  retire_regions(std::move(retired));
  return valid;
}

void HandleArena::compact() {
  check_not_writing("compact");
  std::vector<std::unique_ptr<PlacedRegion>> retired;
  {
    std::lock_guard lock(mutex_);
    if (fast_.used != 0) compact_fast();
    const std::size_t holes = slow_.used - slow_.live_bytes;
    if (holes != 0 && static_cast<double>(holes) >=
                          options_.slow_compact_garbage * static_cast<double>(slow_.used)) {
      rebuild_tier(slow_, slow_.region->size());
    }
    retired.swap(retired_);
  }
  retire_regions(std::move(retired));
}

std::size_t HandleArena::spill() {
  std::lock_guard lock(mutex_);
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t bytes = round_up(slow_.used, page);
  if (bytes == 0) return 0;
  void* base = slow_.region->data();
  if (slow_path_.empty()) {
    ::madvise(base, bytes, MADV_PAGEOUT);  // best effort: needs swap and Linux 5.4
    return bytes;
  }
  if (::msync(base, bytes, MS_SYNC) != 0) {
    throw_system_error("cannot write the slow tier back to its file", errno,
                       {{"file", slow_path_}});
  }
  ::madvise(base, bytes, MADV_DONTNEED);  // shared file mapping: pages re-read on access
  if (int fd = ::open(slow_path_.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    ::posix_fadvise(fd, 0, static_cast<off_t>(bytes), POSIX_FADV_DONTNEED);  // and the page cache
    ::close(fd);
  }
  return bytes;
}

HandleArenaStats HandleArena::statistics() const {
  std::lock_guard lock(mutex_);
  HandleArenaStats s;
  s.fast_objects = fast_.objects;
  s.slow_objects = slow_.objects;
  s.fast_used_bytes = fast_.used;
  s.fast_capacity_bytes = fast_.region->size();
  s.slow_used_bytes = slow_.used;
  s.slow_live_bytes = slow_.live_bytes;
  s.slow_capacity_bytes = slow_.region->size();
  s.compactions = compactions_;
  s.promotions = promotions_;
  s.relocations = relocations_;
  return s;
}

}  // namespace strata
