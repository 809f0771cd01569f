// SPDX-License-Identifier: Apache-2.0
// MemoryScope: memory for one phase of work (a time step, a request, a chunk's temporaries),
// freed all at once when the scope ends. Allocation is a pointer bump in chunks drawn from a
// MemoryManager (by its routing: up to 32 KiB from the calling thread's NUMA pool, up to 256 KiB
// from the system allocator, larger ones placed), and
// deallocate is a no-op, so building many short-lived objects costs almost nothing.
//
//   strata::MemoryScope scope(rt.memory());
//   std::pmr::vector<Particle> hits(&scope);  std::pmr::unordered_map<int, int> counts(&scope);
//   ...                                     // everything goes when `scope` does
//
// Not thread-safe: one scope per thread (or guard it), like std::pmr::monotonic_buffer_resource.
#pragma once

#include <cstddef>
#include <memory_resource>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/memory/memory_manager.hpp"

namespace strata {

class MemoryScope : public std::pmr::memory_resource {
 public:
  // Draws chunks from `manager`, the first of `first_chunk_bytes`, growing geometrically.
  // Throws Error(invalid_argument) for a first chunk of 0 bytes.
  explicit MemoryScope(MemoryManager& manager, std::size_t first_chunk_bytes = 4096)
      : MemoryScope(manager.resource(), first_chunk_bytes) {}
  // Draws chunks from any upstream resource (e.g. a NumaPoolResource).
  explicit MemoryScope(std::pmr::memory_resource& upstream, std::size_t first_chunk_bytes = 4096)
      : chunks_(checked_first_chunk(first_chunk_bytes), &upstream) {}
  MemoryScope(const MemoryScope&) = delete;
  MemoryScope& operator=(const MemoryScope&) = delete;
  // Frees everything allocated in the scope.
  ~MemoryScope() override = default;

  // Frees everything allocated so far; the scope can be used again. Objects still referring
  // to the memory must be gone (their destructors are not run).
  void release() {
    chunks_.release();
    bytes_ = 0;
  }
  // Bytes handed out since construction or the last release().
  std::size_t bytes_allocated() const noexcept { return bytes_; }

 private:
  // monotonic_buffer_resource requires a first size above 0 (with 0 it never grows its chunks).
  static std::size_t checked_first_chunk(std::size_t bytes) {
    if (bytes == 0) {
      throw Error(ErrorCategory::invalid_argument, "a memory scope's first chunk needs a size");
    }
    return bytes;
  }
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    void* p = chunks_.allocate(bytes, alignment);
    bytes_ += bytes;
    return p;
  }
  void do_deallocate(void*, std::size_t, std::size_t) override {}  // freed with the scope
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  std::pmr::monotonic_buffer_resource chunks_;
  std::size_t bytes_ = 0;
};

}  // namespace strata
