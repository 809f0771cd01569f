// SPDX-License-Identifier: Apache-2.0
// The allocators the pools suite puts side by side, each as a type with allocate/deallocate:
// the C library's malloc (glibc, or jemalloc when scripts/bench preloads it), mimalloc
// (mi_malloc), tbbmalloc (scalable_malloc) and strata's NumaPool.
#pragma once

#include <mimalloc.h>
#include <tbb/scalable_allocator.h>

#include <cstdlib>

#include "strata/runtime/memory/numa_pool.hpp"

namespace strata::bench::pools {

// The pool every pool case uses (main.cpp owns it); a plain pointer, so a case pays one load
// and the call, as it does for the other allocators.
inline NumaPool* suite_pool = nullptr;

struct system_malloc {
  static void* allocate(std::size_t n) noexcept { return std::malloc(n); }
  static void deallocate(void* p, std::size_t) noexcept { std::free(p); }
};

struct mimalloc {
  static void* allocate(std::size_t n) noexcept { return mi_malloc(n); }
  static void deallocate(void* p, std::size_t) noexcept { mi_free(p); }
};

struct tbbmalloc {
  static void* allocate(std::size_t n) noexcept { return scalable_malloc(n); }
  static void deallocate(void* p, std::size_t) noexcept { scalable_free(p); }
};

struct strata_pool {
  static void* allocate(std::size_t n) { return suite_pool->allocate(n); }
  static void deallocate(void* p, std::size_t) noexcept { suite_pool->deallocate(p); }
};

}  // namespace strata::bench::pools
