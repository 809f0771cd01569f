// SPDX-License-Identifier: Apache-2.0
// Walking an absolute path inside an open HDF5 file one link at a time, so an error can say which
// component is missing ("/fields" in "/fields/energy") or is not a group, instead of HDF5's
// generic "component not found".
#pragma once

#include <hdf5.h>

#include <string>
#include <string_view>

namespace strata::io::detail {

// Why `path` cannot name an HDF5 object (not absolute, the root group, an empty component, a
// trailing '/'), or nullptr when it can.
const char* object_path_problem(std::string_view path) noexcept;

struct LinkWalk {
  enum class Status { exists, missing, not_a_group };
  Status status = Status::exists;
  // The first prefix that is missing, or the prefix that names something other than a group
  // while more components follow it. Empty when the whole path exists.
  std::string at;
};

// Checks each prefix of `path` (absolute, no empty components) with H5Lexists. Call inside an
// Hdf5Call (H5Lexists fails, and would print, when a prefix is a dataset).
LinkWalk walk_links(hid_t file, std::string_view path);

}  // namespace strata::io::detail
