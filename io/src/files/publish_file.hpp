// Publishing a finished file under its final name, durably: fsync the temporary, rename it into
// place, fsync the folder. A file under its final name is therefore always complete — the
// guarantee the dataset writer, the HDF5 export and the checkpoint store all give.
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

}  // namespace strata::io::detail
