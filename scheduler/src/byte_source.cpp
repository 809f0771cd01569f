// SPDX-License-Identifier: Apache-2.0
// ByteSource over memory: bounds-checked views, and madvise only on pages that belong to a file
// mapping the kernel can read again, found in /proc/self/maps when the source is made.
#include "strata/scheduler/byte_source.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <string>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"

namespace strata {
namespace {

std::uintptr_t page_bytes() noexcept {
  static const auto bytes = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  return bytes;
}

// True when every byte of [begin, end) lies in mappings backed by a file (inode != 0) that are
// shared or not writable: releasing their pages loses nothing, the next touch reads the file.
bool is_rereadable_file_mapping(std::uintptr_t begin, std::uintptr_t end) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::uintptr_t covered = begin;
  while (covered < end && std::getline(maps, line)) {
    unsigned long lo = 0, hi = 0, inode = 0;
    char perms[5] = {};
    unsigned long long offset = 0;
    char dev[32] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s %llx %31s %lu", &lo, &hi, perms, &offset, dev,
                    &inode) != 6) {
      continue;
    }
    if (hi <= covered || lo > covered) continue;  // maps is sorted: the next line may cover it
    const bool rereadable = inode != 0 && (perms[3] == 's' || perms[1] != 'w');
    if (!rereadable) return false;
    covered = hi;
  }
  return covered >= end;
}

int to_madvise(SourceAdvice advice) noexcept {
  switch (advice) {
    case SourceAdvice::willneed:
      return MADV_WILLNEED;
    case SourceAdvice::dontneed:
      return MADV_DONTNEED;
    case SourceAdvice::cold:
      return MADV_COLD;
    case SourceAdvice::pageout:
      return MADV_PAGEOUT;
  }
  return MADV_NORMAL;
}

void advise_pages(const std::byte* data, std::uint64_t bytes, SourceAdvice advice) {
  if (bytes == 0) return;
  // Widened outward to whole pages, by pointer arithmetic so the compiler keeps provenance.
  const std::uintptr_t address = reinterpret_cast<std::uintptr_t>(data);
  const std::size_t head = address % page_bytes();
  const std::size_t length = (head + bytes + page_bytes() - 1) / page_bytes() * page_bytes();
  void* start = const_cast<std::byte*>(data - head);
  if (::madvise(start, length, to_madvise(advice)) == 0) return;
  int err = errno;
  if (err == EINVAL && (advice == SourceAdvice::cold || advice == SourceAdvice::pageout)) {
    log::warn_once(
        "byte-source-no-cold-pageout",
        "MADV_COLD/MADV_PAGEOUT unsupported by this kernel; releasing with MADV_DONTNEED");
    if (::madvise(start, length, MADV_DONTNEED) == 0) return;
    err = errno;
  }
  // Read-ahead is a hint the kernel may decline under pressure; only a failed release matters.
  if (advice == SourceAdvice::willneed && err == EAGAIN) return;
  throw_system_error("madvise failed", err, {{"bytes", std::to_string(bytes)}});
}

}  // namespace

std::span<const std::byte> ByteSource::checked_view(std::uint64_t offset,
                                                    std::uint64_t bytes) const {
  if (offset > size_bytes || bytes > size_bytes - offset) {
    throw Error(ErrorCategory::invalid_argument, "range outside the byte source",
                {{"offset", std::to_string(offset)},
                 {"bytes", std::to_string(bytes)},
                 {"source_bytes", std::to_string(size_bytes)}});
  }
  std::span<const std::byte> v = view(offset, bytes);
  if (v.size() != bytes) {
    throw Error(ErrorCategory::corrupt_data, "byte source returned a short view",
                {{"offset", std::to_string(offset)},
                 {"bytes", std::to_string(bytes)},
                 {"returned", std::to_string(v.size())}});
  }
  return v;
}

void ByteSource::advise_if(std::uint64_t offset, std::uint64_t bytes, SourceAdvice advice) const {
  if (advise && bytes > 0) advise(offset, bytes, advice);
}

ByteSource ByteSource::from_memory(std::span<const std::byte> bytes) {
  ByteSource source;
  source.size_bytes = bytes.size();
  source.view = [bytes](std::uint64_t offset, std::uint64_t n) {
    if (offset > bytes.size() || n > bytes.size() - offset) {
      throw Error(ErrorCategory::invalid_argument, "range outside the memory of the byte source",
                  {{"offset", std::to_string(offset)},
                   {"bytes", std::to_string(n)},
                   {"source_bytes", std::to_string(bytes.size())}});
    }
    return bytes.subspan(offset, n);
  };
  if (bytes.empty()) return source;
  const auto begin = reinterpret_cast<std::uintptr_t>(bytes.data()) / page_bytes() * page_bytes();
  const auto end =
      (reinterpret_cast<std::uintptr_t>(bytes.data()) + bytes.size() + page_bytes() - 1) /
      page_bytes() * page_bytes();
  if (!is_rereadable_file_mapping(begin, end)) {
    log::info("byte source: not a re-readable file mapping, so no read-ahead or release advice");
    return source;
  }
  source.advise = [bytes](std::uint64_t offset, std::uint64_t n, SourceAdvice advice) {
    if (offset > bytes.size() || n > bytes.size() - offset) {
      throw Error(ErrorCategory::invalid_argument, "advice outside the memory of the byte source",
                  {{"offset", std::to_string(offset)}, {"bytes", std::to_string(n)}});
    }
    advise_pages(bytes.data() + offset, n, advice);
  };
  return source;
}

}  // namespace strata
