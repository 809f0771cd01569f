// SPDX-License-Identifier: Apache-2.0
// Calling a typed function for data whose element type is known only at run time (a dataset's
// dtype): visit_kernel_dtype(dtype, f) calls f with a value of the C++ type the SIMD kernels
// support (float, double, int32_t, int64_t) and refuses other types with a clear error;
// visit_dtype(dtype, f) calls f for any dtype (for code that only moves or views the bytes).
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

// f(T{}) for the C++ type of any dtype.
template <class F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      return std::forward<F>(f)(float{});
    case DType::f64:
      return std::forward<F>(f)(double{});
    case DType::i8:
      return std::forward<F>(f)(std::int8_t{});
    case DType::i16:
      return std::forward<F>(f)(std::int16_t{});
    case DType::i32:
      return std::forward<F>(f)(std::int32_t{});
    case DType::i64:
      return std::forward<F>(f)(std::int64_t{});
    case DType::u8:
      return std::forward<F>(f)(std::uint8_t{});
    case DType::u16:
      return std::forward<F>(f)(std::uint16_t{});
    case DType::u32:
      return std::forward<F>(f)(std::uint32_t{});
    case DType::u64:
      return std::forward<F>(f)(std::uint64_t{});
  }
  throw Error(ErrorCategory::invalid_argument, "unknown dtype",
              {{"dtype", std::to_string(static_cast<int>(dtype))}});
}

}  // namespace strata
