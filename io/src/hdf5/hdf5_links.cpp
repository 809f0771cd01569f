// SPDX-License-Identifier: Apache-2.0
// Object paths inside an HDF5 file: which are well formed, and which component of one is missing
// or is not a group.
#include "hdf5/hdf5_links.hpp"

namespace strata::io::detail {

const char* object_path_problem(std::string_view path) noexcept {
  if (path.empty() || path.front() != '/') return "dataset path does not start with '/'";
  if (path == "/") return "'/' is the root group, not a dataset";
  if (path.back() == '/') return "dataset path ends in '/'";
  if (path.find("//") != std::string_view::npos) return "empty path component";
  return nullptr;
}

LinkWalk walk_links(hid_t file, std::string_view path) {
  std::size_t end = 0;
  std::string_view previous;
  while (end != std::string_view::npos) {
    end = path.find('/', end + 1);
    std::string prefix(path.substr(0, end));
    const htri_t exists = H5Lexists(file, prefix.c_str(), H5P_DEFAULT);
    // H5Lexists fails when an earlier component is not a group (a dataset cannot hold links).
    if (exists < 0) {
      H5Eclear2(H5E_DEFAULT);
      return {LinkWalk::Status::not_a_group, std::string(previous)};
    }
    if (exists == 0) return {LinkWalk::Status::missing, prefix};
    previous = path.substr(0, end);
  }
  return {};
}

}  // namespace strata::io::detail
