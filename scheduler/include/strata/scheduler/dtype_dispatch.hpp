// SPDX-License-Identifier: Apache-2.0
// Calling a typed function for data whose element type is known only at run time (a dataset's
// dtype): visit_kernel_dtype(dtype, f) calls f with a value of the C++ type the SIMD kernels
// support (float, double, int32_t, int64_t) and refuses other types with a clear error.
//
//   strata::visit_kernel_dtype(part.dtype(), [&]<class T>(T) { use(part.as<T>()); });
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "strata/runtime/base/dtype.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata {

// Throws Error(unsupported) naming the dtype for types the kernels do not take.
template <class F>
decltype(auto) visit_kernel_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      return std::forward<F>(f)(float{});
    case DType::f64:
      return std::forward<F>(f)(double{});
    case DType::i32:
      return std::forward<F>(f)(std::int32_t{});
    case DType::i64:
      return std::forward<F>(f)(std::int64_t{});
    default:
      throw Error(ErrorCategory::unsupported,
                  "the analysis kernels take f32, f64, i32 and i64 data, not " +
                      std::string(to_string(dtype)),
                  {{"dtype", std::string(to_string(dtype))}});
  }
}

}  // namespace strata
