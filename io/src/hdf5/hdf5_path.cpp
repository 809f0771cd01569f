// SPDX-License-Identifier: Apache-2.0
// Hdf5Path: parsing and printing of "file.h5:/group/dataset", the way users name an HDF5 dataset
// on the command line and in Dataset::open.
#include <string>
#include <string_view>

#include "hdf5/hdf5_links.hpp"
#include "strata/io/hdf5/hdf5.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io {
namespace {

[[noreturn]] void malformed(std::string_view spec, const char* why) {
  throw Error(ErrorCategory::invalid_argument,
              std::string("malformed HDF5 dataset path: ") + why +
                  "; expected FILE:/GROUP/DATASET (e.g. data.h5:/fields/energy)",
              {{"spec", std::string(spec)}});
}

}  // namespace

Hdf5Path Hdf5Path::parse(std::string_view spec) {
  // The last ":/" so that a file name containing ':' (run-12:30.h5) still parses.
  const std::size_t split = spec.rfind(":/");
  if (split == std::string_view::npos) malformed(spec, "no ':/' between file and dataset");
  if (split == 0) malformed(spec, "empty file name");
  const std::string_view dataset = spec.substr(split + 1);
  if (const char* problem = detail::object_path_problem(dataset)) malformed(spec, problem);
  return Hdf5Path{std::string(spec.substr(0, split)), std::string(dataset)};
}

std::string Hdf5Path::to_string() const { return file + ":" + dataset; }

std::string Hdf5Path::leaf() const { return dataset.substr(dataset.rfind('/') + 1); }

}  // namespace strata::io
