// Whole-buffer file I/O with the project's error mapping: pwrite/pread loops that survive EINTR
// and short transfers, fsync, and ENOSPC/EDQUOT reported as Error(resource) (a full disk), other
// failures as Error(io) naming the file. Shared by the dataset writer and the checkpoint store.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
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

// A new file written front to back and then made durable, the shape of a checkpoint shard.
// Where the file system takes O_DIRECT (ext4, XFS; not tmpfs), appended bytes gather in an
// aligned 8 MiB buffer that goes to the device whole, skipping the page-cache copy and the
// writeback a later fsync waits for; elsewhere (or when the first direct write is refused) they
// are written through the page cache with writeback started every 32 MiB. Errors as write_all.
class AppendWriter {
 public:
  // Creates or truncates `path` with `mode`. Throws Error(resource) on a full disk, Error(io) else.
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
  void flush_buffer(bool last);
  void fall_back_to_buffered();

  std::string path_;
  int fd_ = -1;
  bool direct_ = false;
  std::uint64_t size_ = 0;          // bytes appended
  std::uint64_t flushed_ = 0;       // bytes already in the file (direct: a multiple of kAlign)
  std::uint64_t writeback_from_ = 0;
  struct free_deleter {
    void operator()(std::byte* p) const noexcept;
  };
  std::unique_ptr<std::byte, free_deleter> buffer_;  // direct mode only
  std::size_t buffered_ = 0;
  bool padded_ = false;  // the last direct write went past size() to a whole block
};

}  // namespace strata::io::detail
