// SPDX-License-Identifier: Apache-2.0
// The allocators the pools suite puts side by side, each as a type with allocate/deallocate:
// the C library's malloc (whatever provides `malloc` in this process: see system_malloc_name),
// mimalloc (mi_malloc; not in strata_bench_pools_glibc), tbbmalloc (scalable_malloc) and strata's
// NumaPool.
#pragma once

#ifndef STRATA_BENCH_POOLS_GLIBC
#include <mimalloc.h>
#endif
#include <dlfcn.h>
#include <tbb/scalable_allocator.h>

#include <cstdlib>
#include <string>

#include "strata/runtime/memory/numa_pool.hpp"

namespace strata::bench::pools {

// The pool every pool case uses (main.cpp owns it); a plain pointer, so a case pays one load
// and the call, as it does for the other allocators.
inline NumaPool* suite_pool = nullptr;

struct system_malloc {
  static void* allocate(std::size_t n) noexcept { return std::malloc(n); }
  static void deallocate(void* p, std::size_t) noexcept { std::free(p); }
};

// Who answers `malloc` here: Debian's libmimalloc replaces it in any process that links it (so in
// strata_bench_pools), libjemalloc when scripts/bench preloads it, else the C library. "glibc",
// "mimalloc", "jemalloc", or the providing file's name.
inline std::string system_malloc_name() {
  Dl_info info{};
  void* const symbol = dlsym(RTLD_DEFAULT, "malloc");
  if (symbol == nullptr || dladdr(symbol, &info) == 0 || info.dli_fname == nullptr)
    return "unknown";
  const std::string file = info.dli_fname;
  for (const char* name : {"mimalloc", "jemalloc", "tbbmalloc"}) {
    if (file.find(name) != std::string::npos) return name;
  }
  if (file.find("libc.so") != std::string::npos) return "glibc";
  return file;
}

#ifndef STRATA_BENCH_POOLS_GLIBC
struct mimalloc {
  static void* allocate(std::size_t n) noexcept { return mi_malloc(n); }
  static void deallocate(void* p, std::size_t) noexcept { mi_free(p); }
};

// Every single-thread case's peer: the fastest general allocator here.
inline constexpr const char* single_thread_peer = "mimalloc";
#else
// Without mimalloc in the process, the one peer both runs share.
inline constexpr const char* single_thread_peer = "tbbmalloc";
#endif

struct tbbmalloc {
  static void* allocate(std::size_t n) noexcept { return scalable_malloc(n); }
  static void deallocate(void* p, std::size_t) noexcept { scalable_free(p); }
};

struct strata_pool {
  static void* allocate(std::size_t n) { return suite_pool->allocate(n); }
  static void deallocate(void* p, std::size_t) noexcept { suite_pool->deallocate(p); }
};

}  // namespace strata::bench::pools
