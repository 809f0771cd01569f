// SPDX-License-Identifier: Apache-2.0
// Whole-buffer file I/O with the project's error mapping: pwrite/pread loops that survive EINTR
// and short transfers, fsync, and ENOSPC/EDQUOT reported as Error(resource) (a full disk), other
// failures as Error(io) naming the file. Shared by the dataset writer and the checkpoint store.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace strata::io::detail {

// Writes all of `data` at `offset`. Throws Error(resource) when the disk is full, Error(io) else.
void write_all(int fd, const std::string& path, std::uint64_t offset,
               std::span<const std::byte> data);

// Reads exactly out.size() bytes at `offset`. Throws Error(corrupt_data) naming the file when it
// ends first (a truncated file), Error(io) on a read error.
void read_all(int fd, const std::string& path, std::uint64_t offset, std::span<std::byte> out);

// fsync(fd). Throws Error(resource) for ENOSPC/EDQUOT, Error(io) otherwise.
void sync_file(int fd, const std::string& path);

// Copies the file `from` to the new file `to` (refused if the name exists, as AppendWriter) and
// fsyncs it, in pieces of `piece_bytes`, calling between_pieces() before each piece (a copy at
// low priority checks there whether it should hurry). Where `to`'s file system takes O_DIRECT,
// each piece goes to the device straight from a read-only mapping of `from`: no copy through
// this CPU or its caches, no dirty pages for writeback threads to flush. Elsewhere each piece is
// copied inside the kernel (sendfile) and its writeback started at once from the calling thread,
// so the I/O carries the caller's I/O priority. Errors as write_all.
void copy_file_in_pieces(const std::string& from, const std::string& to, std::size_t piece_bytes,
                         const std::function<void()>& between_pieces);

// A new file written front to back and then made durable, the shape of a checkpoint shard.
// Where the file system takes O_DIRECT (ext4, XFS; not tmpfs), appended bytes gather in aligned
// 8 MiB buffers that a thread of the writer's own sends to the device while the caller goes on
// filling the next, skipping the page-cache copy and the writeback a later fsync waits for;
// elsewhere they are written through the page cache with writeback started every 32 MiB. In a
// tmpfs (a node-local level in /dev/shm) they are written straight into its pages.
// Errors as write_all (a failed device write surfaces at the next append or at finish).
class AppendWriter {
 public:
  // Creates `path`, which must not exist (a file or symbolic link under the name is refused), with
  // `mode` & ~umask. Throws Error(resource) on a full disk, Error(io) else.
  AppendWriter(std::string path, mode_t mode);
  ~AppendWriter();
  AppendWriter(const AppendWriter&) = delete;
  AppendWriter& operator=(const AppendWriter&) = delete;

  void append(std::span<const std::byte> data);
  // Writes what is buffered, sets the file to exactly size() bytes and fsyncs it.
  void finish();
  std::uint64_t size() const noexcept { return size_; }
  bool direct() const noexcept { return direct_; }
  const std::string& path() const noexcept { return path_; }

 private:
  struct device_writes;  // the direct mode's buffers, queue and thread

  std::string path_;
  int fd_ = -1;
  bool direct_ = false;
  bool in_memory_ = false;  // tmpfs or ramfs: plain writes, no writeback to start
  std::uint64_t size_ = 0;  // bytes appended
  std::uint64_t writeback_from_ = 0;
  std::unique_ptr<device_writes> device_;
};

}  // namespace strata::io::detail
