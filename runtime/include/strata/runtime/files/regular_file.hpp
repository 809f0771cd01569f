// SPDX-License-Identifier: Apache-2.0
// open_regular_file: opening a file strata will read, refusing anything but a regular file before
// a read can block. A FIFO, a terminal or a device named as input would otherwise hang the open or
// the first read (and a FIFO's open ignores SIGTERM's default handling until a writer appears).
//
//   int fd = strata::open_regular_file(path, O_RDONLY);   // Error(io) for a FIFO or a folder
#pragma once

#include <string>

namespace strata {

// Opens `path` with `flags` | O_CLOEXEC | O_NOCTTY, never blocking in open (O_NONBLOCK, cleared
// again once the file is known to be regular), and returns the descriptor. Error(io) naming the
// file and its type ("a FIFO", "a folder", ...) when it is not a regular file, or when the open
// fails (category from errno).
int open_regular_file(const std::string& path, int flags);

// The same check for a library that opens by name (HDF5): opens, checks, closes. Racy against a
// file replaced in between, which only its owner can do; it stops the mistaken FIFO or device.
void check_regular_file(const std::string& path);

}  // namespace strata
