// Whole-buffer file I/O with the project's error mapping: pwrite/pread loops that survive EINTR
// and short transfers, fsync, and ENOSPC/EDQUOT reported as Error(resource) (a full disk), other
// failures as Error(io) naming the file. Shared by the dataset writer and the checkpoint store.
#pragma once

#include <cstddef>
#include <cstdint>
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

}  // namespace strata::io::detail
