// SPDX-License-Identifier: Apache-2.0
// Test helper: what /proc/self/pagemap says about the pages of an address range — whether each is
// present in this process's page tables, and its physical frame number (readable by root only;
// others see 0) — and whether a frame is dirty (/proc/kpageflags, root only). Lets tests check
// what the kernel did rather than what the code under test says it did.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace strata::test {

struct PageEntry {
  bool present = false;
  std::uint64_t frame = 0;  // physical frame number; 0 when present is false or without root
};

// One entry per base page of [addr, addr + bytes); empty when pagemap cannot be read.
inline std::vector<PageEntry> page_entries(const void* addr, std::size_t bytes) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto first = reinterpret_cast<std::uintptr_t>(addr) / page;
  auto last = (reinterpret_cast<std::uintptr_t>(addr) + bytes + page - 1) / page;
  std::vector<std::uint64_t> raw(last - first);
  std::vector<PageEntry> out;
  int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  auto want = static_cast<ssize_t>(raw.size() * sizeof(std::uint64_t));
  ssize_t got = ::pread(fd, raw.data(), static_cast<std::size_t>(want),
                        static_cast<off_t>(first * sizeof(std::uint64_t)));
  ::close(fd);
  if (got != want) return out;
  for (std::uint64_t e : raw) {
    bool present = (e >> 63) & 1;  // bit 63: page present; bits 0-54: frame number
    out.push_back({present, present ? (e & ((std::uint64_t{1} << 55) - 1)) : 0});
  }
  return out;
}

inline std::size_t present_pages(const void* addr, std::size_t bytes) {
  std::size_t n = 0;
  for (const auto& e : page_entries(addr, bytes)) n += e.present ? 1 : 0;
  return n;
}

// Whether the page in physical frame `frame` is dirty (KPF_DIRTY, bit 4 of /proc/kpageflags);
// nullopt when the frame is unknown (0) or kpageflags cannot be read.
inline std::optional<bool> frame_dirty(std::uint64_t frame) {
  if (frame == 0) return std::nullopt;
  int fd = ::open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::uint64_t flags = 0;
  ssize_t got = ::pread(fd, &flags, sizeof flags, static_cast<off_t>(frame * sizeof flags));
  ::close(fd);
  if (got != static_cast<ssize_t>(sizeof flags)) return std::nullopt;
  return ((flags >> 4) & 1) != 0;
}

}  // namespace strata::test
