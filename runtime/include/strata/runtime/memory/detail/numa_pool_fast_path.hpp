// SPDX-License-Identifier: Apache-2.0
// The inside of NumaPool that its inline fast path needs: size classes, span metadata and the
// per-thread heap cache. Not part of the API: included by numa_pool.hpp only, so that an
// allocation and a free by the owning thread compile into the caller with no call at all.
#pragma once

#ifndef STRATA_INSIDE_NUMA_POOL_HPP
#error "strata/runtime/memory/detail/ is private: include strata/runtime/memory/numa_pool.hpp"
#endif

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "strata/runtime/base/assert.hpp"

namespace strata::detail::numa_pool {

// Small classes (up to 32 KiB) share 64 KiB spans; mid-size classes (up to 1 MiB) have a whole
// segment each as their span.
inline constexpr std::size_t kLargestSmallClassBytes = 32 * 1024;
inline constexpr std::size_t kLargestClassBytes = 1024 * 1024;
inline constexpr std::size_t kSpanBytes = 64 * 1024;
inline constexpr std::size_t kSegmentBytes = 4 * 1024 * 1024;

// Multiples of 16 below 64, of 64 from there on (so classes of 64 B and more are 64-byte
// aligned), with at most ~25 % rounding loss above 512 B; from 32 KiB on four classes per
// doubling, all multiples of 8 KiB (so every mid-size block is 4 KiB aligned).
inline constexpr std::array<std::uint32_t, 55> kClassBytes = {
    16,     32,     48,     64,     128,    192,    256,    320,    384,    448,    512,
    640,    768,    896,    1024,   1280,   1536,   1792,   2048,   2560,   3072,   3584,
    4096,   5120,   6144,   7168,   8192,   10240,  12288,  14336,  16384,  20480,  24576,
    28672,  32768,  40960,  49152,  57344,  65536,  81920,  98304,  114688, 131072, 163840,
    196608, 229376, 262144, 327680, 393216, 458752, 524288, 655360, 786432, 917504, 1048576};
constexpr std::size_t kClassCount = kClassBytes.size();
constexpr std::size_t kSmallClassCount = 35;  // classes up to kLargestSmallClassBytes
static_assert(kClassBytes[kSmallClassCount - 1] == kLargestSmallClassBytes);
static_assert(kClassBytes.back() == kLargestClassBytes);

// The mid-size class of 32 KiB < bytes <= 1 MiB: four per doubling, rounded up.
constexpr std::size_t mid_class_of(std::size_t bytes) noexcept {
  const std::size_t b = bytes - 1;
  const auto top = static_cast<int>(std::bit_width(b)) - 1;  // 15 for (32 KiB, 64 KiB]
  return kSmallClassCount + static_cast<std::size_t>(top - 15) * 4 + ((b >> (top - 2)) & 3);
}
static_assert(mid_class_of(32 * 1024 + 1) == kSmallClassCount);
static_assert(mid_class_of(48 * 1024) == kSmallClassCount + 1);
static_assert(mid_class_of(kLargestClassBytes) == kClassCount - 1);

constexpr std::array<std::uint8_t, kLargestSmallClassBytes / 16 + 1> make_class_of_sixteenths() {
  std::array<std::uint8_t, kLargestSmallClassBytes / 16 + 1> table{};
  std::size_t c = 0;
  for (std::size_t i = 0; i < table.size(); ++i) {
    while (kClassBytes[c] < i * 16) ++c;
    table[i] = static_cast<std::uint8_t>(c);
  }
  return table;
}
// Class index by (bytes + 15) / 16, for 0..kLargestSmallClassBytes.
inline constexpr auto kClassOfSixteenths = make_class_of_sixteenths();

constexpr std::size_t kSpansPerSegment = kSegmentBytes / kSpanBytes;
// Blocks linked into a span's free list at a time: keeps a new span's first use cheap.
constexpr std::size_t kCarveBytes = 16 * 1024;
// Fully free spans a heap keeps for reuse before handing them back to its node: 4 MiB of small
// spans, and two mid-size spans (8 MiB) beside the current one of each class.
constexpr std::uint32_t kRetainedEmptySpans = 64;
constexpr std::uint32_t kRetainedEmptyMidSpans = 2;
// The owner tag of the per-64 KiB metadata entries inside a mid-size span: no thread's tag (a
// thread pointer is never 1), so the inline free sends mid-size blocks out of line, where they
// find their span's metadata in the segment's first entry.
constexpr std::uintptr_t kMidSliceTag = 1;

struct Block {
  Block* next;
};

struct Heap;
struct NodePool;

// Metadata of one span, kept in its segment's header. Written by the owning heap (or, while the
// span is free, under its node's lock); other threads read only `heap` and `block_bytes`, which
// do not change while the span has live blocks. One cache line each: neighbours belong to
// different threads.
struct alignas(64) Span {
  Block* free = nullptr;        // blocks ready to hand out
  Block* local_free = nullptr;  // the owner's frees, moved to `free` when it runs dry (so an
                                // allocation does not wait on the store of the last free)
  Span* prev = nullptr;         // on the bin's list of spans with free blocks, or the node's list
  Span* next = nullptr;
  Heap* heap = nullptr;
  // The owning thread's tag (0 while its heap is abandoned): a free compares it to its own.
  std::atomic<std::uintptr_t> owner{0};
  // Live blocks: written by the owner with a plain load and store, read by statistics().
  std::atomic<std::uint32_t> used{0};
  std::uint32_t block_bytes = 0;
  std::uint32_t uncarved = 0;  // blocks at the end of the span not yet linked into `free`
  std::uint16_t class_index = 0;
  bool listed = false;   // the bin's current span or on its available list
  bool current = false;  // the bin's current span (checked by frees without finding the bin)
};

// The start of every segment. In a segment of small spans spans[0] is the header's own room and
// never handed out; in a mid-size segment spans[0] is the one span's metadata and spans[1..]
// describe its 64 KiB slices (owner kMidSliceTag, block_bytes the class).
struct Segment {
  NodePool* node = nullptr;
  std::array<Span, kSpansPerSegment> spans;
};
static_assert(sizeof(Segment) <= kSpanBytes);
static_assert(sizeof(Span) == 64);

// The span every bin starts with: no blocks, so the first allocation takes the slow path.
extern Span empty_span;

inline Span* span_of(const void* p) noexcept {
  auto addr = reinterpret_cast<std::uintptr_t>(p);
  auto* segment = reinterpret_cast<Segment*>(addr & ~(kSegmentBytes - 1));
  return &segment->spans[(addr & (kSegmentBytes - 1)) / kSpanBytes];
}

// A counter with one writer: a plain load and store (no read-modify-write), atomic only so
// that statistics() may read it from another thread.
inline void bump_counter(std::atomic<std::uint64_t>& c, std::uint64_t by) noexcept {
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
  // One non-locked add on the memory operand (what the load and store amount to, in one
  // instruction instead of three); single writer, so no lock prefix is needed.
  static_assert(sizeof(c) == sizeof(std::uint64_t));
  asm volatile("addq %1, %0" : "+m"(*reinterpret_cast<std::uint64_t*>(&c)) : "er"(by));
#else
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
#endif
}

// The part of a thread heap the inline fast path reads: one bin per size class. The rest of the
// heap (runtime/src/memory/numa_pool.cpp) derives from it.
struct HeapFront;

// Per-thread cache of heaps by pool id. Initial-exec TLS (__thread: no init wrapper call): one
// fs-relative load.
struct ThreadHeapEntry {
  std::uint64_t pool_id;
  HeapFront* heap;
};
constexpr std::size_t kCachedPools = 8;
extern __thread ThreadHeapEntry thread_heaps[kCachedPools]
    __attribute__((tls_model("initial-exec")));

// The calling thread's identity for ownership checks: its thread pointer (one register read on
// x86-64), else the address of its own cache. Unique among live threads.
inline std::uintptr_t this_thread_tag() noexcept {
#if defined(__x86_64__) && defined(__has_builtin)
#if __has_builtin(__builtin_thread_pointer)
  return reinterpret_cast<std::uintptr_t>(__builtin_thread_pointer());
#endif
#endif
  return reinterpret_cast<std::uintptr_t>(&thread_heaps[0]);
}

// One size class of a heap. The allocation counter sits next to `current`, which every
// allocation reads anyway (written only by the owner, read by statistics()).
struct alignas(32) Bin {
  Span* current = &empty_span;
  Span* available = nullptr;  // spans with free blocks (or unlinked room), not current
  std::atomic<std::uint64_t> allocations{0};
};

struct HeapFront {
  std::array<Bin, kClassCount> bins;
};

// Out of line: everything the inline paths hand over (remote_free also takes every mid-size free).
void* allocate_slow(HeapFront* heap, std::size_t c);
void after_local_free(Span* s) noexcept;
void remote_free(Span* s, Block* b) noexcept;

inline std::uint32_t used_of(const Span* s) noexcept {
  return s->used.load(std::memory_order_relaxed);
}
inline void set_used(Span* s, std::uint32_t n) noexcept {
  s->used.store(n, std::memory_order_relaxed);
}
// Owner only: one more live block.
inline void raise_used(Span* s) noexcept {
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
  asm volatile("addl $1, %0" : "+m"(*reinterpret_cast<std::uint32_t*>(&s->used)));
#else
  set_used(s, used_of(s) + 1);
#endif
}
// Owner only: one fewer live block; true when none is left.
inline bool drop_used(Span* s) noexcept {
  STRATA_ASSERT(used_of(s) > 0);  // else a block was freed twice or into the wrong span
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
  bool zero;  // one non-locked decrement on memory, and its zero flag (single writer)
  asm volatile("subl $1, %0" : "+m"(*reinterpret_cast<std::uint32_t*>(&s->used)), "=@ccz"(zero));
  return zero;
#else
  const std::uint32_t left = used_of(s) - 1;
  set_used(s, left);
  return left == 0;
#endif
}

// A block of class `c` from `heap` (the calling thread's): a pop from the bin's current span, or
// the slow path when it has none. Always inlined: it is the whole of NumaPool::allocate.
[[gnu::always_inline]] inline void* pop_block(HeapFront* heap, std::size_t c) {
  STRATA_ASSERT(c < kClassCount);
  Bin& bin = heap->bins[c];
  Span* s = bin.current;
  STRATA_ASSERT(s == &empty_span || s->class_index == c);
  Block* b = s->free;
  if (b == nullptr) [[unlikely]] {
    return allocate_slow(heap, c);
  }
  s->free = b->next;
  raise_used(s);
  bump_counter(bin.allocations, 1);
  return b;
}

}  // namespace strata::detail::numa_pool
