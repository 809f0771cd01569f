// SPDX-License-Identifier: Apache-2.0
// Hdf5Call: the scope every public HDF5 function of io/ runs in. It serialises HDF5 (the library
// is built without thread safety) and silences HDF5's automatic error printing, so failures reach
// the user once, as a strata::Error carrying HDF5's own innermost message.
#pragma once

#include <hdf5.h>

#include <mutex>
#include <string>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {

class Hdf5Call {
 public:
  // Locks the process-wide HDF5 lock (recursive: public functions call each other) and turns off
  // the automatic printing of HDF5's error stack until destruction, which restores the handler.
  Hdf5Call();
  ~Hdf5Call();
  Hdf5Call(const Hdf5Call&) = delete;
  Hdf5Call& operator=(const Hdf5Call&) = delete;

 private:
  std::unique_lock<std::recursive_mutex> lock_;
  H5E_auto2_t saved_func_ = nullptr;
  void* saved_data_ = nullptr;
};

// The innermost description on HDF5's error stack ("unable to open file: ... errno = 2 ..."),
// or an empty string when the stack is empty. Clears the stack.
std::string hdf5_error_detail();

// Throws Error(category, message) with `context` plus {"hdf5", hdf5_error_detail()} when HDF5
// left a description.
[[noreturn]] void throw_hdf5_error(ErrorCategory category, std::string message,
                                   std::vector<ErrorContext> context);

// throw_hdf5_error for a failed write, flush or close: when the failure was a full disk or quota
// (ENOSPC or EDQUOT, from HDF5's message or errno), Error(resource) with the reason in the
// message; Error(io) otherwise. Call right after the failing HDF5 call, before errno changes.
[[noreturn]] void throw_hdf5_write_error(std::string message, std::vector<ErrorContext> context);

}  // namespace strata::io::detail
