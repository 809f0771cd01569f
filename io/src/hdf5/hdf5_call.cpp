// SPDX-License-Identifier: Apache-2.0
// Hdf5Call and HDF5 error conversion: one lock and one quiet error stack for all HDF5 use in io/,
// and the innermost HDF5 message copied into strata::Error's context.
#include "hdf5/hdf5_call.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace strata::io::detail {
namespace {

// One lock for the process: HDF5's global state (open-file table, error stack, free lists) is
// unprotected in a build without thread safety, whichever object a thread works on.
std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

herr_t keep_innermost(unsigned n, const H5E_error2_t* error, void* client_data) {
  // Walking upward starts at the function that detected the error, whose description says the
  // most (the file name and errno for an open that failed).
  if (n == 0 && error != nullptr) {
    auto* out = static_cast<std::string*>(client_data);
    if (error->desc != nullptr) *out = error->desc;
    if (out->empty() && error->func_name != nullptr) *out = error->func_name;
  }
  return 0;
}

}  // namespace

Hdf5Call::Hdf5Call() : lock_(hdf5_mutex()) {
  H5Eget_auto2(H5E_DEFAULT, &saved_func_, &saved_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

Hdf5Call::~Hdf5Call() { H5Eset_auto2(H5E_DEFAULT, saved_func_, saved_data_); }

std::string hdf5_error_detail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, &detail);
  H5Eclear2(H5E_DEFAULT);
  return detail;
}

void throw_hdf5_error(ErrorCategory category, std::string message,
                      std::vector<ErrorContext> context) {
  std::string detail = hdf5_error_detail();
  if (!detail.empty()) context.push_back({"hdf5", std::move(detail)});
  throw Error(category, std::move(message), std::move(context));
}

}  // namespace strata::io::detail

namespace strata::io::detail {

void throw_hdf5_write_error(std::string message, std::vector<ErrorContext> context) {
  int err = errno;
  std::string detail = hdf5_error_detail();
  // HDF5's POSIX driver writes "errno = 28, error message = '...'" into its description; without
  // it, errno (which HDF5 may leave from an unrelated call) is trusted only when it says the
  // disk or quota is full, the one thing a user must be told.
  bool from_hdf5 = false;
  if (const std::size_t at = detail.find("errno = "); at != std::string::npos) {
    err = std::atoi(detail.c_str() + at + 8);
    from_hdf5 = true;
  }
  if (!detail.empty()) context.push_back({"hdf5", std::move(detail)});
  if (err != 0 && (from_hdf5 || category_of_errno(err) == ErrorCategory::resource)) {
    throw_errno(std::move(message), err, std::move(context));
  }
  throw Error(ErrorCategory::io, std::move(message), std::move(context));
}

}  // namespace strata::io::detail
