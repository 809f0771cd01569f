// SPDX-License-Identifier: Apache-2.0
// Durable files and folders: publishing a finished file under its final name (fsync the
// temporary, rename it into place, fsync the folder), so a file under its final name is always
// complete — the guarantee the dataset writer, the HDF5 export and the checkpoint store all give —
// and creating the folders such files go into.
#pragma once

#include <string>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {

// Throws Error(io) (Error(resource) for ENOSPC) with `context` when the sync or rename fails.
void publish_file(const std::string& temp_path, const std::string& final_path,
                  const std::vector<ErrorContext>& context);

// fsync of a folder, so a rename or create inside it survives a crash. Throws Error(io).
void sync_folder(const std::string& folder, const std::vector<ErrorContext>& context);

// Writes `text` to `path` through `path`.part, then publish_file; mode 0666 & ~umask. The .part
// name must be new (O_EXCL | O_NOFOLLOW: a file or link planted there is refused).
// Throws Error(io) (Error(resource) for a full disk) naming the file.
void write_file_durably(const std::string& path, const std::string& text);

// Creates `path` and any missing parents, each 0777 & ~umask; an existing folder is left as it is
// (its permissions are its owner's choice). Throws Error(io) naming the folder.
void make_folder(const std::string& path);

}  // namespace strata::io::detail
