// SPDX-License-Identifier: Apache-2.0
// NumaPool: per-thread heaps with one free list per span, spans carved from per-node placed
// segments (64 KiB spans for small classes, a whole segment for a mid-size class), remote frees pushed onto the owning heap's lock-free list, and exited threads' heaps
// abandoned to their node until another thread adopts them or their last block comes back.
#include "strata/runtime/memory/numa_pool.hpp"

#include <sched.h>
#include <sys/mman.h>

#include <array>
#include <atomic>
#include <bit>
#include <mutex>
#include <new>
#include <utility>

#include "memory/thread_exit_registry.hpp"
#include "strata/runtime/base/assert.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/memory/placed_region.hpp"

namespace strata {
namespace detail::numa_pool {

// The span every bin starts with: no blocks, so the first allocation takes the slow path.
Span empty_span;
__thread ThreadHeapEntry thread_heaps[kCachedPools] __attribute__((tls_model("initial-exec")));

struct Heap : HeapFront {
  NodePool* node = nullptr;
  std::uint32_t empty_spans = 0;      // fully free small spans on available lists
  std::uint32_t empty_mid_spans = 0;  // fully free mid-size spans on available lists
  std::uint64_t live_spans = 0;
  bool abandoned = false;
  std::atomic<std::uintptr_t> owner{0};  // this_thread_tag() of the owner; 0 when abandoned

  // Written only by the owner (or by whoever holds an abandoned heap under its node's lock).
  // Allocations are counted per bin; frees are allocations minus the spans' live blocks, so a
  // free counts nothing.
  std::atomic<std::uint64_t> remote_frees{0};

  // Other threads push here; a line of its own.
  alignas(64) std::atomic<Block*> remote{nullptr};

  // Counts the allocation too; out of line so the fast path needs no saved registers.
  [[gnu::noinline]] void* allocate_slow(std::size_t c);
  void* refill(std::size_t c);
  void release_block(Span* s, Block* b, bool node_locked) noexcept;
  // The owner's free found the span not current and now empty or no longer full.
  [[gnu::noinline]] void after_local_free(Span* s) noexcept;
  void span_emptied(Span* s, bool node_locked) noexcept;
  // Gives the fully free spans kept for reuse back to the node (the owner, or whoever holds an
  // abandoned heap, under the node's lock).
  void release_retained_locked() noexcept;
  // Takes the pending remote frees. Returns how many.
  std::uint64_t collect_remote(bool node_locked) noexcept;
  void list_available(Bin& bin, Span* s) noexcept {
    s->prev = nullptr;
    s->next = bin.available;
    if (bin.available != nullptr) bin.available->prev = s;
    bin.available = s;
    s->listed = true;
  }
  void unlist_available(Bin& bin, Span* s) noexcept {
    if (s->prev != nullptr) {
      s->prev->next = s->next;
    } else {
      bin.available = s->next;
    }
    if (s->next != nullptr) s->next->prev = s->prev;
    s->prev = s->next = nullptr;
    s->listed = false;
  }
  std::uint64_t allocations() const noexcept {
    std::uint64_t n = 0;
    for (const Bin& b : bins) n += b.allocations.load(std::memory_order_relaxed);
    return n;
  }
};

inline Segment* segment_of(const void* p) noexcept {
  return reinterpret_cast<Segment*>(reinterpret_cast<std::uintptr_t>(p) & ~(kSegmentBytes - 1));
}

inline bool is_mid(const Span* s) noexcept { return s->block_bytes > kLargestSmallClassBytes; }

// The metadata a block's free goes to: its 64 KiB span's, or for a mid-size block (whose 64 KiB
// entry is a slice) the segment's first entry.
inline Span* owner_span(const Block* b) noexcept {
  Span* s = span_of(b);
  if (s->owner.load(std::memory_order_relaxed) == kMidSliceTag) return &segment_of(s)->spans[0];
  return s;
}

// The first byte of the memory a span's metadata describes: its own 64 KiB, or for a mid-size
// span (spans[0]) everything after the segment's header.
std::byte* span_memory(Span* s) noexcept {
  Segment* seg = segment_of(s);
  const auto index = static_cast<std::size_t>(s - seg->spans.data());
  return reinterpret_cast<std::byte*>(seg) + std::max<std::size_t>(index, 1) * kSpanBytes;
}
constexpr std::size_t kMidSpanBytes = kSegmentBytes - kSpanBytes;
// `uncarved` of a free span whose pages trim() gave back.
constexpr std::uint32_t kTrimmedMark = UINT32_MAX;
inline std::size_t span_room_bytes(const Span* s) noexcept {
  return is_mid(s) ? kMidSpanBytes : kSpanBytes;
}

// Links up to kCarveBytes of the span's untouched room into its free list.
void carve(Span* s) noexcept {
  STRATA_ASSERT(s->block_bytes != 0 && s->uncarved <= span_room_bytes(s) / s->block_bytes);
  std::size_t n = std::max<std::size_t>(1, kCarveBytes / s->block_bytes);
  n = std::min<std::size_t>(n, s->uncarved);
  const std::size_t capacity = span_room_bytes(s) / s->block_bytes;
  std::byte* p = span_memory(s) + (capacity - s->uncarved) * s->block_bytes;
  Block* head = s->free;
  // Linked back to front so the list runs in address order.
  for (std::size_t i = n; i-- > 0;) {
    auto* b = reinterpret_cast<Block*>(p + i * s->block_bytes);
    b->next = head;
    head = b;
  }
  s->free = head;
  s->uncarved -= static_cast<std::uint32_t>(n);
}

inline void* pop(Span* s) noexcept {
  STRATA_ASSERT(s->free != nullptr);
  Block* b = s->free;
  s->free = b->next;
  set_used(s, used_of(s) + 1);
  return b;
}

// ------------------------------------------------------------------------------------------
// Per node: placed segments, fully free spans, and the node's heaps.

struct NodePool {
  NumaPool::Core* core = nullptr;
  unsigned index = 0;
  std::mutex mutex;
  std::vector<PlacedRegion> regions;
  Segment* segment = nullptr;  // the segment spans are being cut from
  std::size_t next_span = kSpansPerSegment;
  std::byte* next_segment = nullptr;  // uncut segments of the last region
  std::byte* segments_end = nullptr;
  Span* free_spans = nullptr;
  Span* free_mid = nullptr;      // whole mid-size segments nobody uses (their spans[0])
  std::vector<Heap*> heaps;      // live
  std::vector<Heap*> abandoned;  // exited threads' heaps with live blocks
  // Counters of heaps that are gone.
  std::uint64_t retired_allocations = 0, retired_remote = 0;
  std::uint64_t span_count = 0;      // small spans in heaps
  std::uint64_t mid_span_count = 0;  // mid-size spans in heaps
  std::uint64_t span_takes = 0;
  std::uint64_t peak_bytes = 0;
  std::vector<Segment*> segments;

  Span* take_span(Heap* heap, std::size_t c);
  Span* take_small_locked();
  Span* take_mid_locked(std::size_t c);
  Segment* new_segment_locked();
  void give_span_locked(Span* s) noexcept {
    s->heap = nullptr;
    s->owner.store(0, std::memory_order_relaxed);
    if (is_mid(s)) {
      s->next = free_mid;
      free_mid = s;
      --mid_span_count;
    } else {
      s->next = free_spans;
      free_spans = s;
      --span_count;
    }
  }
  void reserve_locked();
  void sweep_abandoned_locked() noexcept;
  void retire_locked(Heap* h) noexcept;
  // Hands every span of `h` to the thread `tag` (0: abandoned). From entry 0: a mid-size span's
  // metadata; its slices have no heap.
  void set_span_owners_locked(const Heap* h, std::uintptr_t tag) noexcept {
    for (Segment* seg : segments) {
      for (std::size_t i = 0; i < kSpansPerSegment; ++i) {
        if (seg->spans[i].heap == h) seg->spans[i].owner.store(tag, std::memory_order_relaxed);
      }
    }
  }
  // Live blocks and their bytes over every span of the node.
  std::pair<std::uint64_t, std::uint64_t> live_locked() const noexcept {
    std::uint64_t blocks = 0, bytes = 0;
    for (const Segment* seg : segments) {
      for (std::size_t i = 0; i < kSpansPerSegment; ++i) {
        const Span& sp = seg->spans[i];
        if (sp.heap == nullptr) continue;
        const std::uint64_t n = used_of(&sp);
        blocks += n;
        bytes += n * sp.block_bytes;
      }
    }
    return {blocks, bytes};
  }
};

}  // namespace detail::numa_pool

using namespace detail::numa_pool;

struct NumaPool::Core final : detail::ThreadSlotOwner {
  const Topology& topology;
  NumaPoolOptions options;
  std::uint64_t id = 0;
  std::vector<std::unique_ptr<NodePool>> nodes;

  Core(const Topology& t, NumaPoolOptions o) : topology(t), options(o) {}

  unsigned node_of_this_cpu() const noexcept {
    int cpu = sched_getcpu();
    int node = cpu >= 0 ? topology.numa_node_of_cpu(static_cast<unsigned>(cpu)) : -1;
    return node >= 0 && static_cast<std::size_t>(node) < nodes.size() ? static_cast<unsigned>(node)
                                                                      : 0;
  }

  Heap* thread_heap() {
    if (thread_heaps[0].pool_id == id) [[likely]] {
      return static_cast<Heap*>(thread_heaps[0].heap);
    }
    return thread_heap_slow();
  }
  [[gnu::noinline]] Heap* thread_heap_slow();
  // The calling thread's heap if it has one.
  Heap* find_thread_heap() noexcept;

  void release_thread_slot(void* slot) noexcept override;
};

Segment* NodePool::new_segment_locked() {
  if (next_segment == segments_end) reserve_locked();
  auto* seg = new (next_segment) Segment();
  seg->node = this;
  segments.push_back(seg);
  next_segment += NumaPool::kSegmentBytes;
  return seg;
}

Span* NodePool::take_small_locked() {
  if (free_spans == nullptr) sweep_abandoned_locked();
  Span* s = free_spans;
  if (s != nullptr) {
    free_spans = s->next;
    return s;
  }
  if (next_span == kSpansPerSegment) {
    segment = new_segment_locked();
    next_span = 1;
  }
  return &segment->spans[next_span++];
}

// A whole segment for class `c`; its slices are marked so frees find spans[0].
Span* NodePool::take_mid_locked(std::size_t c) {
  if (free_mid == nullptr) sweep_abandoned_locked();
  Segment* seg = nullptr;
  if (free_mid != nullptr) {
    seg = segment_of(free_mid);
    free_mid = free_mid->next;
  } else {
    seg = new_segment_locked();
  }
  if (seg->spans[1].block_bytes != kClassBytes[c]) {
    for (std::size_t i = 1; i < kSpansPerSegment; ++i) {
      Span& slice = seg->spans[i];
      slice.block_bytes = kClassBytes[c];
      slice.class_index = static_cast<std::uint16_t>(c);
      slice.owner.store(kMidSliceTag, std::memory_order_relaxed);
    }
  }
  return &seg->spans[0];
}

Span* NodePool::take_span(Heap* heap, std::size_t c) {
  std::lock_guard lock(mutex);
  const bool mid = c >= kSmallClassCount;
  Span* s = mid ? take_mid_locked(c) : take_small_locked();
  const std::uint32_t bytes = kClassBytes[c];
  s->block_bytes = bytes;
  s->class_index = static_cast<std::uint16_t>(c);
  s->heap = heap;
  s->owner.store(heap->owner.load(std::memory_order_relaxed), std::memory_order_relaxed);
  set_used(s, 0);
  s->free = nullptr;
  s->local_free = nullptr;
  s->uncarved = static_cast<std::uint32_t>((mid ? kMidSpanBytes : kSpanBytes) / bytes);
  s->prev = s->next = nullptr;
  s->listed = s->current = false;
  ++(mid ? mid_span_count : span_count);
  ++heap->live_spans;
  if (++span_takes % 16 == 0) peak_bytes = std::max(peak_bytes, live_locked().second);
  return s;
}

void NodePool::reserve_locked() {
  const Topology& topology = core->topology;
  Placement placement =
      topology.numa_nodes().size() > 1 ? Placement::bind(index) : Placement::local();
  PlacedRegion r;
  try {
    r = PlacedRegion::allocate(topology, core->options.reserve_bytes + NumaPool::kSegmentBytes,
                               {.placement = placement, .largest_pages = PageSize::transparent});
  } catch (const Error&) {
    throw std::bad_alloc();
  }
  auto first = (reinterpret_cast<std::uintptr_t>(r.data()) + NumaPool::kSegmentBytes - 1) &
               ~(NumaPool::kSegmentBytes - 1);
  auto last = reinterpret_cast<std::uintptr_t>(r.data()) + r.mapped_bytes();
  next_segment = reinterpret_cast<std::byte*>(first);
  segments_end = next_segment + (last - first) / NumaPool::kSegmentBytes * NumaPool::kSegmentBytes;
  regions.push_back(std::move(r));
}

void NodePool::retire_locked(Heap* h) noexcept {
  retired_allocations += h->allocations();
  retired_remote += h->remote_frees.load(std::memory_order_relaxed);
  delete h;
}

void NodePool::sweep_abandoned_locked() noexcept {
  for (std::size_t i = 0; i < abandoned.size();) {
    Heap* h = abandoned[i];
    h->collect_remote(/*node_locked=*/true);
    if (h->live_spans == 0) {
      abandoned[i] = abandoned.back();
      abandoned.pop_back();
      retire_locked(h);
    } else {
      ++i;
    }
  }
}

// ------------------------------------------------------------------------------------------
// Heap slow paths.

void* Heap::allocate_slow(std::size_t c) {
  void* p = refill(c);
  bump_counter(bins[c].allocations, 1);
  return p;
}

// Gives a span blocks in `free` from its local frees or its uncarved room; false if it has none.
inline bool restock(Span* s) noexcept {
  if (s->free != nullptr) return true;
  if (s->local_free != nullptr) {
    s->free = std::exchange(s->local_free, nullptr);
    return true;
  }
  if (s->uncarved != 0) {
    carve(s);
    return true;
  }
  return false;
}

void* Heap::refill(std::size_t c) {
  Bin& bin = bins[c];
  Span* s = bin.current;
  if (restock(s)) return pop(s);
  collect_remote(false);
  if (s->free != nullptr) return pop(s);
  if (s != &empty_span) s->listed = s->current = false;  // full; a free relists it
  if (Span* a = bin.available; a != nullptr) {
    unlist_available(bin, a);
    a->listed = a->current = true;
    if (used_of(a) == 0) --(is_mid(a) ? empty_mid_spans : empty_spans);
    bin.current = a;
    restock(a);  // an available span always has blocks in one of its lists or room
    return pop(a);
  }
  bin.current = &empty_span;
  Span* n = node->take_span(this, c);
  n->listed = n->current = true;
  bin.current = n;
  carve(n);
  return pop(n);
}

void Heap::after_local_free(Span* s) noexcept {
  if (used_of(s) == 0) {
    span_emptied(s, false);
  } else {
    list_available(bins[s->class_index], s);
  }
}

void Heap::release_block(Span* s, Block* b, bool node_locked) noexcept {
  b->next = s->free;
  s->free = b;
  const std::uint32_t left = used_of(s) - 1;
  set_used(s, left);
  if (left == 0) [[unlikely]] {
    if (!s->current || abandoned) span_emptied(s, node_locked);
  } else if (!s->listed) [[unlikely]] {
    list_available(bins[s->class_index], s);
  }
}

void Heap::span_emptied(Span* s, bool node_locked) noexcept {
  Bin& bin = bins[s->class_index];
  if (!abandoned) {
    if (s == bin.current) return;
    if (!s->listed) list_available(bin, s);
    const bool mid = is_mid(s);
    std::uint32_t& retained = mid ? empty_mid_spans : empty_spans;
    if (++retained <= (mid ? kRetainedEmptyMidSpans : kRetainedEmptySpans)) return;
    --retained;
  }
  if (s == bin.current) {
    bin.current = &empty_span;
    s->listed = s->current = false;
  } else if (s->listed) {
    unlist_available(bin, s);
  }
  --live_spans;
  if (node_locked) {
    node->give_span_locked(s);
  } else {
    std::lock_guard lock(node->mutex);
    node->give_span_locked(s);
  }
}

void Heap::release_retained_locked() noexcept {
  for (Bin& bin : bins) {
    for (Span* s = bin.available; s != nullptr;) {
      Span* next = s->next;
      if (used_of(s) == 0) {
        unlist_available(bin, s);
        --live_spans;
        node->give_span_locked(s);
      }
      s = next;
    }
  }
  empty_spans = empty_mid_spans = 0;
}

std::uint64_t Heap::collect_remote(bool node_locked) noexcept {
  if (remote.load(std::memory_order_relaxed) == nullptr) return 0;
  Block* b = remote.exchange(nullptr, std::memory_order_acquire);
  std::uint64_t n = 0;
  while (b != nullptr) {
    Block* next = b->next;
    release_block(owner_span(b), b, node_locked);
    b = next;
    ++n;
  }
  bump_counter(remote_frees, n);
  return n;
}

// ------------------------------------------------------------------------------------------
// Thread heaps: created on a thread's first allocation, abandoned at its exit.

Heap* NumaPool::Core::find_thread_heap() noexcept {
  for (auto& e : thread_heaps) {
    if (e.pool_id == id) return static_cast<Heap*>(e.heap);
  }
  return static_cast<Heap*>(detail::find_thread_slot(id));
}

Heap* NumaPool::Core::thread_heap_slow() {
  Heap* h = find_thread_heap();
  if (h == nullptr) {
    NodePool& node = *nodes[node_of_this_cpu()];
    {
      std::lock_guard lock(node.mutex);
      if (!node.abandoned.empty()) {  // adopt an exited thread's heap with its live blocks
        h = node.abandoned.back();
        node.abandoned.pop_back();
        h->abandoned = false;
      } else {
        h = new Heap();
        h->node = &node;
      }
      h->owner.store(this_thread_tag(), std::memory_order_relaxed);
      node.set_span_owners_locked(h, this_thread_tag());
      node.heaps.push_back(h);
    }
    detail::remember_thread_slot(id, h);
  }
  // Most recent first.
  for (std::size_t i = kCachedPools - 1; i > 0; --i) thread_heaps[i] = thread_heaps[i - 1];
  thread_heaps[0] = {id, h};
  return h;
}

// On the exiting thread, under the registry's lock (the pool cannot go meanwhile).
void NumaPool::Core::release_thread_slot(void* slot) noexcept {
  auto* h = static_cast<Heap*>(slot);
  for (auto& e : thread_heaps) {
    if (e.pool_id == id) e = {0, nullptr};
  }
  h->collect_remote(/*node_locked=*/false);
  NodePool& node = *h->node;
  std::lock_guard lock(node.mutex);
  // From here on every free to this heap is remote, and whoever holds the node lock may collect.
  h->owner.store(0, std::memory_order_relaxed);
  node.set_span_owners_locked(h, 0);
  h->abandoned = true;
  // Fully free spans kept for reuse go back to the node now.
  h->release_retained_locked();
  for (Bin& bin : h->bins) {
    if (bin.current != &empty_span && used_of(bin.current) == 0) {
      Span* s = bin.current;
      bin.current = &empty_span;
      s->listed = s->current = false;
      --h->live_spans;
      node.give_span_locked(s);
    }
  }
  std::erase(node.heaps, h);
  if (h->live_spans == 0) {
    node.retire_locked(h);
  } else {
    node.abandoned.push_back(h);
  }
}

// ------------------------------------------------------------------------------------------
// NumaPool.

NumaPool::NumaPool(const Topology& topology, NumaPoolOptions options)
    : topology_(topology), core_(std::make_unique<Core>(topology, options)) {
  if (options.reserve_bytes < 2 * kSegmentBytes) {
    throw Error(ErrorCategory::invalid_argument, "pool reserve must hold at least two segments",
                {{"reserve_bytes", std::to_string(options.reserve_bytes)}});
  }
  std::size_t count = std::max<std::size_t>(1, topology.numa_nodes().size());
  for (std::size_t i = 0; i < count; ++i) {
    auto node = std::make_unique<NodePool>();
    node->core = core_.get();
    node->index = static_cast<unsigned>(i);
    core_->nodes.push_back(std::move(node));
  }
  core_->id = detail::register_thread_slot_owner(core_.get());
  id_ = core_->id;
}

NumaPool::~NumaPool() {
  detail::unregister_thread_slot_owner(core_->id);
  for (auto& node : core_->nodes) {
    for (Heap* h : node->heaps) delete h;
    for (Heap* h : node->abandoned) delete h;
  }
  // Threads still running keep stale cache entries under this pool's id, which no pool reuses.
}

bool NumaPool::fits(std::size_t bytes, std::size_t alignment) noexcept {
  return bytes <= kLargestClassBytes && alignment <= kLargestAlignment;
}

namespace {
// The class for a request the fast path does not take: aligned beyond 16 bytes, mid-size (every
// mid-size block is 4 KiB aligned), or too large (a broken precondition, refused with bad_alloc
// rather than memory corruption).
std::size_t unusual_class(std::size_t bytes, std::size_t alignment) {
  if (!NumaPool::fits(bytes, alignment)) [[unlikely]]
    throw std::bad_alloc();
  if (bytes > kLargestSmallClassBytes) return mid_class_of(bytes);
  std::size_t c = kClassOfSixteenths[(bytes + 15) >> 4];
  while (kClassBytes[c] % alignment != 0) ++c;  // ends: 32 KiB is a multiple of 4 KiB
  return c;
}
}  // namespace

namespace detail::numa_pool {

void* allocate_slow(HeapFront* heap, std::size_t c) {
  return static_cast<Heap*>(heap)->allocate_slow(c);
}

void after_local_free(Span* s) noexcept { s->heap->after_local_free(s); }

namespace {
// A mid-size block's free (every one comes out of line): local when the caller owns the span.
void mid_free(Span* s, Block* b) noexcept {
  if (s->owner.load(std::memory_order_relaxed) == this_thread_tag()) {
    b->next = s->local_free;
    s->local_free = b;
    const bool empty = drop_used(s);
    if (!s->current && (empty || !s->listed)) after_local_free(s);
    return;
  }
  Heap* h = s->heap;
  STRATA_ASSERT(h != nullptr);  // freed twice, or not ours
  Block* head = h->remote.load(std::memory_order_relaxed);
  do {
    b->next = head;
  } while (!h->remote.compare_exchange_weak(head, b, std::memory_order_release,
                                            std::memory_order_relaxed));
}
}  // namespace

void remote_free(Span* s, Block* b) noexcept {
  if (s->owner.load(std::memory_order_relaxed) == kMidSliceTag) {
    mid_free(&segment_of(s)->spans[0], b);
    return;
  }
  Heap* h = s->heap;
  STRATA_ASSERT(h != nullptr);  // a block of a span no heap owns: freed twice, or not ours
  Block* head = h->remote.load(std::memory_order_relaxed);
  do {
    b->next = head;
  } while (!h->remote.compare_exchange_weak(head, b, std::memory_order_release,
                                            std::memory_order_relaxed));
}

}  // namespace detail::numa_pool

// Everything the inline fast path does not: a first allocation on this thread, an alignment
// beyond 16 bytes, a size beyond the largest class.
void* NumaPool::allocate_unusual(std::size_t bytes, std::size_t alignment) {
  const std::size_t c = alignment <= 16 && bytes <= kLargestSmallClassBytes
                            ? kClassOfSixteenths[(bytes + 15) >> 4]
                            : unusual_class(bytes, alignment);
  return pop_block(core_->thread_heap(), c);
}

void* NumaPool::allocate(std::size_t bytes, std::size_t alignment) {
  // Checked here, not in fits(): no class is a multiple of an alignment such as 3000, and
  // unusual_class would search past the last one.
  if (!std::has_single_bit(alignment)) [[unlikely]] {
    throw Error(ErrorCategory::invalid_argument, "pool alignment must be a power of two",
                {{"alignment", std::to_string(alignment)}});
  }
  if (alignment <= 16) return allocate(bytes);
  return allocate_unusual(bytes, alignment);
}

bool NumaPool::owns(const void* block) const noexcept {
  auto p = reinterpret_cast<std::uintptr_t>(block);
  for (const auto& node : core_->nodes) {
    std::lock_guard lock(node->mutex);
    for (const PlacedRegion& r : node->regions) {
      auto begin = reinterpret_cast<std::uintptr_t>(r.data());
      if (p >= begin && p < begin + r.mapped_bytes()) return true;
    }
  }
  return false;
}

std::size_t NumaPool::block_bytes(const void* block) noexcept {
  return span_of(block)->block_bytes;
}

unsigned NumaPool::current_node() {
  return static_cast<unsigned>(core_->thread_heap()->node->index);
}

void NumaPool::reclaim() {
  if (Heap* h = core_->find_thread_heap(); h != nullptr) h->collect_remote(false);
  for (auto& node : core_->nodes) {
    std::lock_guard lock(node->mutex);
    node->sweep_abandoned_locked();
  }
}

std::size_t NumaPool::trim() {
  reclaim();
  if (Heap* h = core_->find_thread_heap(); h != nullptr) {
    std::lock_guard lock(h->node->mutex);
    h->release_retained_locked();
  }
  std::size_t bytes = 0;
  for (auto& node : core_->nodes) {
    std::lock_guard lock(node->mutex);
    // The metadata lives in the segment header, so the spans' own pages can go. A free span's
    // `uncarved` is unused until take_span resets it: it marks the span as already released, so
    // a second trim counts (and advises) only what came back since.
    for (Span* list : {node->free_spans, node->free_mid}) {
      for (Span* s = list; s != nullptr; s = s->next) {
        if (s->uncarved == kTrimmedMark) continue;
        const std::size_t room = list == node->free_mid ? kMidSpanBytes : kSpanBytes;
        if (::madvise(span_memory(s), room, MADV_DONTNEED) == 0) {
          bytes += room;
          s->uncarved = kTrimmedMark;
        }
      }
    }
  }
  return bytes;
}

std::vector<PoolNodeStats> NumaPool::statistics() const {
  std::vector<PoolNodeStats> out;
  for (const auto& node : core_->nodes) {
    std::lock_guard lock(node->mutex);
    node->sweep_abandoned_locked();
    PoolNodeStats s;
    s.allocations = node->retired_allocations;
    s.remote_frees = node->retired_remote;
    auto add = [&](const Heap* h) {
      s.allocations += h->allocations();
      s.remote_frees += h->remote_frees.load(std::memory_order_relaxed);
    };
    for (const Heap* h : node->heaps) add(h);
    for (const Heap* h : node->abandoned) add(h);
    auto [live_blocks, live_bytes] = node->live_locked();
    s.bytes_in_use = live_bytes;
    // Read while owners run, the two may be a moment apart: never below zero.
    s.frees = s.allocations > live_blocks ? s.allocations - live_blocks : 0;
    node->peak_bytes = std::max(node->peak_bytes, s.bytes_in_use);
    s.peak_bytes = node->peak_bytes;
    s.span_bytes = 0;
    for (Span* f = node->free_spans; f != nullptr; f = f->next) s.span_bytes += kSpanBytes;
    s.span_bytes += node->span_count * kSpanBytes;
    for (Span* f = node->free_mid; f != nullptr; f = f->next) s.span_bytes += kSegmentBytes;
    s.span_bytes += node->mid_span_count * kSegmentBytes;
    for (const PlacedRegion& r : node->regions) s.reserved_bytes += r.mapped_bytes();
    s.heaps = node->heaps.size();
    s.abandoned_heaps = node->abandoned.size();
    out.push_back(s);
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// NumaPoolResource.

void* NumaPoolResource::do_allocate(std::size_t bytes, std::size_t alignment) {
  if (NumaPool::fits(bytes, alignment)) return pool_->allocate(bytes, alignment);
  return upstream_->allocate(bytes, alignment);
}

void NumaPoolResource::do_deallocate(void* p, std::size_t bytes, std::size_t alignment) {
  if (NumaPool::fits(bytes, alignment)) {
    pool_->deallocate(p);
  } else {
    upstream_->deallocate(p, bytes, alignment);
  }
}

}  // namespace strata
