// SPDX-License-Identifier: Apache-2.0
// MappedFile: a file mapped into memory — read-only, read-write or copy-on-write — with populate,
// access advice, sync and async flush of a range, growth, and a NUMA placement for its pages.
// Views are handed out only after checking the file still has the bytes they cover, and the copy
// path uses pread, so a file truncated under the mapping is a strata::Error, not a SIGBUS.
//
//   auto f = strata::MappedFile::open("data.bin", strata::MappedFileOptions().populate());
//   std::span<const std::byte> head = f.bytes(0, 4096);
//   auto rw = strata::MappedFile::open("state.bin", strata::MappedFileOptions().read_write().create(1 << 30));
//   rw.writable_bytes(0, 8)[0] = std::byte{1};  rw.flush(0, 8);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>

#include "strata/runtime/machine/topology.hpp"
#include "strata/runtime/memory/placement.hpp"

namespace strata {

enum class MapMode { read_only, read_write, copy_on_write };
// huge_pages asks for transparent huge pages on the mapping (MADV_HUGEPAGE): where the kernel and
// the file system support large page-cache folios, a fault reads ahead and maps 2 MiB at a time.
// Advice only: a kernel that refuses it (EINVAL: no THP) leaves the mapping as it was, no error.
enum class MapAdvice { normal, sequential, random, willneed, dontneed, huge_pages };

// A builder of mapping options; every setter returns *this.
class MappedFileOptions {
 public:
  MappedFileOptions& read_only() { mode_ = MapMode::read_only; return *this; }
  MappedFileOptions& read_write() { mode_ = MapMode::read_write; return *this; }
  // Private copy: writes stay in this process and never reach the file.
  MappedFileOptions& copy_on_write() { mode_ = MapMode::copy_on_write; return *this; }
  // Read-write only: create the file if missing and make it at least `bytes` long (blocks are
  // allocated up front, so a full disk fails here).
  MappedFileOptions& create(std::uint64_t bytes) { create_bytes_ = bytes; return *this; }
  MappedFileOptions& populate(bool on = true) { populate_ = on; return *this; }
  MappedFileOptions& advise(MapAdvice advice) { advice_ = advice; return *this; }
  // Places the mapping's pages (the topology must outlive the mapping).
  MappedFileOptions& placement(const Placement& placement, const Topology& topology) {
    placement_ = placement;
    topology_ = &topology;
    return *this;
  }

  MapMode mode() const noexcept { return mode_; }
  std::optional<std::uint64_t> create_bytes() const noexcept { return create_bytes_; }
  bool populate_enabled() const noexcept { return populate_; }
  MapAdvice advice() const noexcept { return advice_; }
  const std::optional<Placement>& placement() const noexcept { return placement_; }
  const Topology* topology() const noexcept { return topology_; }

 private:
  MapMode mode_ = MapMode::read_only;
  std::optional<std::uint64_t> create_bytes_;
  bool populate_ = false;
  MapAdvice advice_ = MapAdvice::normal;
  std::optional<Placement> placement_;
  const Topology* topology_ = nullptr;
};

class MappedFile {
 public:
  // Maps the whole file (a regular file; an empty one maps nothing and has size() 0). Error(io)
  // naming the file when it cannot be opened or mapped, Error(resource) when creating runs out of
  // disk (a file this call created is removed again), Error(invalid_argument) for create() without
  // read_write() or a placement naming an unknown node.
  //
  // Placement: the mapping is bound to the nodes, which places the private pages of a
  // copy-on-write mapping. Page-cache pages of a shared mapping follow the policy of the thread
  // that faults them in, so populate() runs under the placement too; pages already cached by an
  // earlier reader stay where they are.
  static MappedFile open(const std::string& path, const MappedFileOptions& options = {});

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();  // unmaps; does not flush (call flush() to make writes durable)

  const std::string& path() const noexcept { return path_; }
  MapMode mode() const noexcept { return mode_; }
  // Bytes mapped (the file's size when mapped or last grown).
  std::uint64_t size() const noexcept { return size_; }
  // The file's size now (fstat); smaller than size() when it was truncated behind our back.
  std::uint64_t file_bytes() const;
  int native_handle() const noexcept { return fd_; }

  // A view of [offset, offset + bytes). Error(invalid_argument) when outside the mapping,
  // Error(corrupt_data) naming the file when the file has been truncated below the range.
  // The check is made when the view is handed out: a file truncated while a view is in use can
  // still fault on access (no mapping can prevent that); read() is the path that never does.
  // Not on a temporary MappedFile: the view would outlive the mapping.
  std::span<const std::byte> bytes(std::uint64_t offset, std::uint64_t bytes) const&;
  std::span<const std::byte> bytes(std::uint64_t offset, std::uint64_t bytes) const&& = delete;
  // Same, writable (read_write or copy_on_write only, else Error(invalid_argument)).
  std::span<std::byte> writable_bytes(std::uint64_t offset, std::uint64_t bytes) &;
  std::span<std::byte> writable_bytes(std::uint64_t offset, std::uint64_t bytes) && = delete;
  // Copies [offset, offset + out.size()) into `out` with pread: never SIGBUS; a short file is
  // Error(corrupt_data), a failing read Error(io), a range outside the mapping
  // Error(invalid_argument). Reads the file, so in copy_on_write mode it does not see this
  // process's private changes.
  void read(std::uint64_t offset, std::span<std::byte> out) const;

  // madvise of the range (widened to pages). Error(invalid_argument) outside the mapping. Note that
  // dontneed on a copy_on_write mapping discards this process's private changes in the range.
  void advise(std::uint64_t offset, std::uint64_t bytes, MapAdvice advice) const;
  // Faults the range's pages in now under the mapping's placement (MADV_POPULATE_READ: no page is
  // dirtied or privately copied). Error(corrupt_data) when the file is shorter than the range.
  void populate(std::uint64_t offset, std::uint64_t bytes) const;
  // msync of the range (widened to pages); async schedules the write-back and returns. Only
  // read_write mappings have anything to write back; for the others it checks the range and
  // returns. Error(io) naming the file when the write-back fails.
  void flush(std::uint64_t offset, std::uint64_t bytes, bool async = false) const;
  void flush(bool async = false) const { flush(0, size_, async); }
  // read_write only: extends the file to `new_bytes` (blocks allocated, so a full disk is
  // Error(resource) here) and remaps, keeping the contents and the placement; views taken before
  // are invalid. Error(invalid_argument) in other modes or when `new_bytes` < size(). Waits while
  // another thread holds the mapping (hold_mapping()).
  void grow(std::uint64_t new_bytes);

  // Keeps the mapping where it is, at its size, while the returned lock lives: grow() on any
  // thread waits until it is released. For a reader on another thread that takes views of the
  // whole mapping and copies them (a checkpoint's copy phase), so it never reads an unmapped
  // range. Do not grow() on the thread holding it (that deadlocks). An empty lock on a
  // default-constructed MappedFile.
  [[nodiscard]] std::shared_lock<std::shared_mutex> hold_mapping() const;

 private:
  std::string path_;
  MapMode mode_ = MapMode::read_only;
  int fd_ = -1;
  std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
  std::optional<Placement> placement_;
  const Topology* topology_ = nullptr;
  // Shared by hold_mapping(), exclusive in grow(); on the heap so that a MappedFile stays movable.
  std::unique_ptr<std::shared_mutex> remap_mutex_;

  void check_range(std::uint64_t offset, std::uint64_t bytes) const;
  void check_file_covers(std::uint64_t end) const;
  void place_and_populate(bool populate);
  void release() noexcept;
};

}  // namespace strata
