// SPDX-License-Identifier: Apache-2.0
// The system calls the checkpoint suite's baselines are made of: write() + fdatasync() of a whole
// file and fsync() of its folder (what a save must at least cost to be as durable as strata's),
// and pread() of a whole file. Each throws std::system_error naming the file.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace strata::bench::checkpoint {

// Creates or truncates `path`, write()s `bytes` into it (as many calls as it takes) and
// fdatasync()s it before closing.
void write_fdatasync(const std::string& path, std::span<const std::byte> bytes);
// Opens `path` and fdatasync()s it: makes durable what another writer (HDF5) left in the cache.
void fdatasync_file(const std::string& path);
// fsync() of a folder, so that a new file's name in it is durable too.
void fsync_folder(const std::string& path);
// Reads the first out.size() bytes of `path` into `out` with pread(); throws when it is shorter.
void pread_file(const std::string& path, std::span<std::byte> out);

}  // namespace strata::bench::checkpoint
