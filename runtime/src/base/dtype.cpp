// SPDX-License-Identifier: Apache-2.0
// DType names and sizes, and Shape's overflow-checked counts.
#include "strata/runtime/base/dtype.hpp"

#include <algorithm>

#include "strata/runtime/base/error.hpp"

namespace strata {
namespace {

constexpr std::array<std::pair<DType, std::string_view>, 10> kNames{{
    {DType::f32, "f32"}, {DType::f64, "f64"}, {DType::i8, "i8"},   {DType::i16, "i16"},
    {DType::i32, "i32"}, {DType::i64, "i64"}, {DType::u8, "u8"},   {DType::u16, "u16"},
    {DType::u32, "u32"}, {DType::u64, "u64"},
}};

// NumPy's names for the same types (np.dtype("float32").name), so a user can paste them. NumPy's
// short codes are not taken: its "u8" is an 8-byte integer, strata's a 1-byte one.
constexpr std::array<std::pair<DType, std::string_view>, 10> kNumpyNames{{
    {DType::f32, "float32"},
    {DType::f64, "float64"},
    {DType::i8, "int8"},
    {DType::i16, "int16"},
    {DType::i32, "int32"},
    {DType::i64, "int64"},
    {DType::u8, "uint8"},
    {DType::u16, "uint16"},
    {DType::u32, "uint32"},
    {DType::u64, "uint64"},
}};

}  // namespace

std::string_view to_string(DType dtype) noexcept {
  for (const auto& [d, name] : kNames) {
    if (d == dtype) return name;
  }
  return "unknown";
}

std::size_t dtype_bytes(DType dtype) noexcept {
  switch (dtype) {
    case DType::i8: case DType::u8: return 1;
    case DType::i16: case DType::u16: return 2;
    case DType::f32: case DType::i32: case DType::u32: return 4;
    case DType::f64: case DType::i64: case DType::u64: return 8;
  }
  return 0;
}

DType parse_dtype(std::string_view text) {
  for (const auto& [d, name] : kNames) {
    if (name == text) return d;
  }
  for (const auto& [d, name] : kNumpyNames) {
    if (name == text) return d;
  }
  throw Error(
      ErrorCategory::invalid_argument,
      "unknown dtype (use f32, f64, i8..i64, u8..u64, or NumPy's float32, int16, uint8, ...)",
      {{"dtype", std::string(text)}});
}

Shape::Shape(std::initializer_list<std::size_t> extents) {
  for (std::size_t e : extents) push_back(e);
}

void Shape::push_back(std::size_t extent) {
  if (rank_ == kMaxRank) {
    throw Error(ErrorCategory::invalid_argument, "shape has more than 8 dimensions",
                {{"shape", to_string() + "+"}});
  }
  std::size_t product = 0;
  if (__builtin_mul_overflow(elements_, extent, &product)) {
    throw Error(ErrorCategory::invalid_argument, "shape's element count overflows",
                {{"shape", to_string()}, {"extent", std::to_string(extent)}});
  }
  extents_[rank_++] = extent;
  elements_ = product;
}

std::size_t Shape::row_elements() const noexcept {
  if (rank_ == 0) return 1;
  std::size_t n = 1;
  for (std::size_t d = 1; d < rank_; ++d) n *= extents_[d];
  return n;
}

std::size_t Shape::byte_count(DType dtype) const {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(elements_, dtype_bytes(dtype), &bytes)) {
    throw Error(ErrorCategory::invalid_argument, "shape's byte count overflows",
                {{"shape", to_string()}, {"dtype", std::string(strata::to_string(dtype))}});
  }
  return bytes;
}

std::string Shape::to_string() const {
  std::string out = "[";
  for (std::size_t d = 0; d < rank_; ++d) {
    if (d != 0) out += ", ";
    out += std::to_string(extents_[d]);
  }
  return out + "]";
}

}  // namespace strata
