// SPDX-License-Identifier: Apache-2.0
// MappedFile: mmap of a whole file with its modes, advice, populate, flush and growth. Every range
// handed out is first checked against the file's size now (fstat), so truncation behind our back
// becomes Error(corrupt_data) instead of a SIGBUS in the caller.
#include "strata/runtime/files/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <utility>

#include "machine/hwloc_placement.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/round_up.hpp"
#include "strata/runtime/files/mapped_read_guard.hpp"
#include "strata/runtime/files/regular_file.hpp"
#include "strata/runtime/machine/huge_pages.hpp"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

namespace strata {
namespace {

constexpr std::uint64_t kMaxFileBytes = std::numeric_limits<off_t>::max();

std::uint64_t page() noexcept { return base_page_bytes(); }

std::uint64_t round_up_to_page(std::uint64_t bytes) noexcept { return round_up(bytes, page()); }

int to_madvise(MapAdvice advice) noexcept {
  switch (advice) {
    case MapAdvice::normal: return MADV_NORMAL;
    case MapAdvice::sequential: return MADV_SEQUENTIAL;
    case MapAdvice::random: return MADV_RANDOM;
    case MapAdvice::willneed: return MADV_WILLNEED;
    case MapAdvice::dontneed: return MADV_DONTNEED;
    case MapAdvice::huge_pages: return MADV_HUGEPAGE;
  }
  return MADV_NORMAL;
}

std::string_view to_string(MapMode mode) noexcept {
  switch (mode) {
    case MapMode::read_only: return "read_only";
    case MapMode::read_write: return "read_write";
    case MapMode::copy_on_write: return "copy_on_write";
  }
  return "unknown";
}

// Allocates the file's blocks for [0, bytes): afterwards writes through the mapping cannot run out
// of disk (which the kernel would report as a SIGBUS), so a full disk is an error here instead.
void allocate_blocks(int fd, const std::string& path, std::uint64_t bytes) {
  if (bytes == 0) return;
  if (int err = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes)); err != 0) {
    throw_errno("cannot allocate the file's blocks", err, {{"file", path}, {"bytes", std::to_string(bytes)}});
  }
}

}  // namespace

MappedFile MappedFile::open(const std::string& path, const MappedFileOptions& options) {
  MappedFile f;
  f.path_ = path;
  f.mode_ = options.mode();
  f.remap_mutex_ = std::make_unique<std::shared_mutex>();
  const auto create_bytes = options.create_bytes();
  if (create_bytes && f.mode_ != MapMode::read_write) {
    throw Error(ErrorCategory::invalid_argument, "create() needs a read_write mapping",
                {{"file", path}, {"mode", std::string(to_string(f.mode_))}});
  }
  if (create_bytes && *create_bytes > kMaxFileBytes) {
    throw Error(ErrorCategory::invalid_argument, "file size too large",
                {{"file", path}, {"bytes", std::to_string(*create_bytes)}});
  }
  if (options.placement()) {
    if (options.topology() == nullptr) {
      throw Error(ErrorCategory::invalid_argument, "a placement needs a topology",
                  {{"file", path}});
    }
    detail::validate_nodes(*options.topology(), *options.placement());
    f.placement_ = options.placement();
    f.topology_ = options.topology();
  }

  const int access = (f.mode_ == MapMode::read_write ? O_RDWR : O_RDONLY) | O_CLOEXEC;
  bool created = false;
  if (create_bytes) {
    // O_EXCL first, to know whether a failure later must remove a file this call made.
    f.fd_ = ::open(path.c_str(), access | O_CREAT | O_EXCL, 0666);
    created = f.fd_ >= 0;
    if (!created && errno == EEXIST) f.fd_ = open_regular_file(path, access);
  } else {
    f.fd_ = open_regular_file(path, access);  // a FIFO is refused here, before any read blocks
  }
  if (f.fd_ < 0) {
    throw_errno("cannot open file", errno, {{"file", path}});
  }
  if (create_bytes) {
    try {
      allocate_blocks(f.fd_, path, *create_bytes);
    } catch (const Error&) {
      if (created) ::unlink(path.c_str());
      throw;
    }
  }

  struct stat st {};
  if (::fstat(f.fd_, &st) != 0) {
    throw_errno("cannot stat file", errno, {{"file", path}});
  }
  if (!S_ISREG(st.st_mode)) {
    throw Error(ErrorCategory::io, "not a regular file", {{"file", path}});
  }
  f.size_ = static_cast<std::uint64_t>(st.st_size);
  if (f.size_ == 0) return f;  // nothing to map: mmap of zero bytes is EINVAL

  int prot = PROT_READ;
  int flags = MAP_SHARED;
  if (f.mode_ == MapMode::read_write) prot |= PROT_WRITE;
  if (f.mode_ == MapMode::copy_on_write) {
    prot |= PROT_WRITE;
    // Only pages actually written need private memory; without NORESERVE the kernel would
    // account the whole file as committed memory and refuse large files under strict overcommit.
    flags = MAP_PRIVATE | MAP_NORESERVE;
  }
  void* p = ::mmap(nullptr, round_up_to_page(f.size_), prot, flags, f.fd_, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    throw_errno("cannot map file", err, {{"file", path}, {"bytes", std::to_string(f.size_)}});
  }
  f.data_ = static_cast<std::byte*>(p);
  register_mapped_file(f.data_, round_up_to_page(f.size_), path);
  if (f.placement_) {
    detail::apply_placement_if_real(*f.topology_, f.data_, round_up_to_page(f.size_),
                                    *f.placement_);
  }
  // Advice first: sequential advice widens the read-ahead that populate then benefits from.
  if (options.advice() != MapAdvice::normal) f.advise(0, f.size_, options.advice());
  if (options.populate_enabled()) f.populate(0, f.size_);
  return f;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    mode_ = other.mode_;
    fd_ = std::exchange(other.fd_, -1);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    placement_ = std::exchange(other.placement_, std::nullopt);
    topology_ = std::exchange(other.topology_, nullptr);
    remap_mutex_ = std::move(other.remap_mutex_);
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() noexcept {
  if (data_ != nullptr) {
    unregister_mapped_file(data_);
    ::munmap(data_, round_up_to_page(size_));
  }
  if (fd_ >= 0) ::close(fd_);
  data_ = nullptr;
  fd_ = -1;
  size_ = 0;
}

std::uint64_t MappedFile::file_bytes() const {
  if (fd_ < 0) return 0;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    throw_errno("cannot stat file", errno, {{"file", path_}});
  }
  return static_cast<std::uint64_t>(st.st_size);
}

void MappedFile::check_range(std::uint64_t offset, std::uint64_t bytes) const {
  if (offset > size_ || bytes > size_ - offset) {
    throw Error(ErrorCategory::invalid_argument, "range outside the mapping",
                {{"file", path_},
                 {"offset", std::to_string(offset)},
                 {"bytes", std::to_string(bytes)},
                 {"size", std::to_string(size_)}});
  }
}

void MappedFile::check_file_covers(std::uint64_t end) const {
  std::uint64_t now = file_bytes();
  if (now < end) {
    throw Error(ErrorCategory::corrupt_data,
                "file is shorter than the range asked for: it was truncated after it was mapped",
                {{"file", path_},
                 {"file_bytes", std::to_string(now)},
                 {"needed_bytes", std::to_string(end)}});
  }
}

std::span<const std::byte> MappedFile::bytes(std::uint64_t offset, std::uint64_t bytes) const& {
  check_range(offset, bytes);
  if (bytes == 0) return {};
  check_file_covers(offset + bytes);
  return {data_ + offset, bytes};
}

std::span<std::byte> MappedFile::writable_bytes(std::uint64_t offset, std::uint64_t bytes) & {
  if (mode_ == MapMode::read_only) {
    throw Error(ErrorCategory::invalid_argument, "writable view of a read-only mapping",
                {{"file", path_}});
  }
  check_range(offset, bytes);
  if (bytes == 0) return {};
  check_file_covers(offset + bytes);
  return {data_ + offset, bytes};
}

void MappedFile::read(std::uint64_t offset, std::span<std::byte> out) const {
  check_range(offset, out.size());
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                        static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw_errno("cannot read file", errno, {{"file", path_}, {"offset", std::to_string(offset + done)}});
    }
    if (n == 0) {
      throw Error(ErrorCategory::corrupt_data,
                  "file ends before the range asked for: it was truncated after it was mapped",
                  {{"file", path_},
                   {"file_bytes", std::to_string(offset + done)},
                   {"needed_bytes", std::to_string(offset + out.size())}});
    }
    done += static_cast<std::size_t>(n);
  }
}

void MappedFile::advise(std::uint64_t offset, std::uint64_t bytes, MapAdvice advice) const {
  check_range(offset, bytes);
  if (bytes == 0) return;
  std::uint64_t first = offset / page() * page();
  std::uint64_t last = round_up_to_page(offset + bytes);
  if (::madvise(data_ + first, last - first, to_madvise(advice)) != 0) {
    if (advice == MapAdvice::huge_pages && errno == EINVAL) return;  // no THP here: advice only
    throw_system_error("madvise failed", errno, {{"file", path_}});
  }
}

void MappedFile::populate(std::uint64_t offset, std::uint64_t bytes) const {
  check_range(offset, bytes);
  if (bytes == 0) return;
  check_file_covers(offset + bytes);
  std::uint64_t first = offset / page() * page();
  std::uint64_t last = round_up_to_page(offset + bytes);
  std::optional<detail::ScopedThreadPlacement> placed;
  if (placement_) placed.emplace(*topology_, *placement_);
  if (::madvise(data_ + first, last - first, MADV_POPULATE_READ) == 0) return;
  int err = errno;
  if (err == EINVAL) {
    // Kernels before 5.14: read one byte per page. The size was checked just above.
    for (std::uint64_t off = first; off < offset + bytes; off += page()) {
      (void)reinterpret_cast<const volatile std::byte*>(data_)[off];
    }
    return;
  }
  if (err == EFAULT) check_file_covers(offset + bytes);  // truncated between the check and now
  throw_errno("cannot populate mapping", err, {{"file", path_}, {"bytes", std::to_string(last - first)}});
}

void MappedFile::flush(std::uint64_t offset, std::uint64_t bytes, bool async) const {
  check_range(offset, bytes);
  // A read-only mapping has nothing dirty, and private pages of a copy-on-write one never go back.
  if (mode_ != MapMode::read_write || bytes == 0) return;
  std::uint64_t first = offset / page() * page();
  std::uint64_t last = round_up_to_page(offset + bytes);
  if (::msync(data_ + first, last - first, async ? MS_ASYNC : MS_SYNC) != 0) {
    throw_errno("cannot write the mapping back", errno, {{"file", path_},
                 {"offset", std::to_string(first)},
                 {"bytes", std::to_string(last - first)}});
  }
}

void MappedFile::grow(std::uint64_t new_bytes) {
  if (mode_ != MapMode::read_write) {
    throw Error(ErrorCategory::invalid_argument, "only a read_write mapping can grow",
                {{"file", path_}, {"mode", std::string(to_string(mode_))}});
  }
  if (!remap_mutex_) {
    throw Error(ErrorCategory::invalid_argument, "grow of a mapping that was moved from",
                {{"file", path_}});
  }
  std::unique_lock exclusive(*remap_mutex_);
  if (new_bytes < size_ || new_bytes > kMaxFileBytes) {
    throw Error(ErrorCategory::invalid_argument, "grow needs a size at least the current one",
                {{"file", path_},
                 {"size", std::to_string(size_)},
                 {"new_bytes", std::to_string(new_bytes)}});
  }
  if (new_bytes == size_) return;
  allocate_blocks(fd_, path_, new_bytes);
  std::uint64_t old_len = round_up_to_page(size_);
  std::uint64_t new_len = round_up_to_page(new_bytes);
  if (new_len != old_len) {
    void* p = data_ == nullptr
                  ? ::mmap(nullptr, new_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0)
                  : ::mremap(data_, old_len, new_len, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) {
      int err = errno;
      throw_errno("cannot remap the grown file", err, {{"file", path_}, {"bytes", std::to_string(new_bytes)}});
    }
    if (data_ != nullptr) unregister_mapped_file(data_);
    data_ = static_cast<std::byte*>(p);
    register_mapped_file(data_, new_len, path_);
    // The part kept its policy through mremap; only the new pages need it (and have none faulted,
    // so a strict binding cannot fail on pages placed elsewhere).
    if (placement_) {
      detail::apply_placement_if_real(*topology_, data_ + old_len, new_len - old_len, *placement_);
    }
  }
  size_ = new_bytes;
}

std::shared_lock<std::shared_mutex> MappedFile::hold_mapping() const {
  if (!remap_mutex_) return {};
  return std::shared_lock(*remap_mutex_);
}

}  // namespace strata
