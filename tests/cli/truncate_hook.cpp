// SPDX-License-Identifier: Apache-2.0
// A test-only LD_PRELOAD library: truncates one file right after the N-th fstat of it returns,
// so `strata verify` / `stats` pass their size check and then read a mapping whose file has just
// been truncated — deterministically, at a chosen point of the read, with no timing involved.
// STRATA_TEST_TRUNCATE_FILE (absolute path), STRATA_TEST_TRUNCATE_AT_FSTAT (N),
// STRATA_TEST_TRUNCATE_TO (bytes).
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

std::atomic<int> seen{0};

void maybe_truncate(int fd) {
  const char* target = std::getenv("STRATA_TEST_TRUNCATE_FILE");
  const char* at = std::getenv("STRATA_TEST_TRUNCATE_AT_FSTAT");
  const char* to = std::getenv("STRATA_TEST_TRUNCATE_TO");
  if (target == nullptr || at == nullptr || to == nullptr) return;
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char name[4096];
  const ssize_t n = ::readlink(link, name, sizeof name - 1);
  if (n <= 0) return;
  name[n] = '\0';
  if (std::strcmp(name, target) != 0) return;
  if (seen.fetch_add(1) + 1 == std::atoi(at)) ::truncate(target, std::atoll(to));
}

}  // namespace

extern "C" int fstat(int fd, struct stat* st) {
  using Fstat = int (*)(int, struct stat*);
  static const auto real = reinterpret_cast<Fstat>(::dlsym(RTLD_NEXT, "fstat"));
  const int rc = real(fd, st);
  if (rc == 0 && S_ISREG(st->st_mode)) maybe_truncate(fd);
  return rc;
}

extern "C" int fstat64(int fd, struct stat64* st) {
  using Fstat64 = int (*)(int, struct stat64*);
  static const auto real = reinterpret_cast<Fstat64>(::dlsym(RTLD_NEXT, "fstat64"));
  const int rc = real(fd, st);
  if (rc == 0 && S_ISREG(st->st_mode)) maybe_truncate(fd);
  return rc;
}
