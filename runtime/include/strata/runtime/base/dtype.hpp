// SPDX-License-Identifier: Apache-2.0
// DType and Shape: the element type and the n-dimensional extent (up to 8 dimensions) shared by
// arrays, datasets and checkpoints. Shapes check their element and byte counts for overflow, so
// a hostile or mistaken shape is an error, never a wrapped-around allocation.
//
//   strata::Shape s{1024, 1024, 3};
//   std::size_t bytes = s.byte_count(strata::DType::f64);   // throws on overflow
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace strata {

enum class DType : std::uint8_t { f32, f64, i8, i16, i32, i64, u8, u16, u32, u64 };

std::string_view to_string(DType dtype) noexcept;
std::size_t dtype_bytes(DType dtype) noexcept;
// Parses "f64", "i32", ...; throws Error(invalid_argument) naming the text.
DType parse_dtype(std::string_view text);

template <class T>
constexpr DType dtype_of() = delete;
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<std::int8_t>() { return DType::i8; }
template <> constexpr DType dtype_of<std::int16_t>() { return DType::i16; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<std::uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<std::uint16_t>() { return DType::u16; }
template <> constexpr DType dtype_of<std::uint32_t>() { return DType::u32; }
template <> constexpr DType dtype_of<std::uint64_t>() { return DType::u64; }

class Shape {
 public:
  static constexpr std::size_t kMaxRank = 8;

  Shape() = default;
  // Throws Error(invalid_argument) for more than kMaxRank dimensions or an overflowing count.
  Shape(std::initializer_list<std::size_t> extents);
  template <class It>
  Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<std::size_t>(*first));
  }

  std::size_t rank() const noexcept { return rank_; }
  std::size_t operator[](std::size_t dim) const noexcept { return extents_[dim]; }
  const std::size_t* begin() const noexcept { return extents_.data(); }
  const std::size_t* end() const noexcept { return extents_.data() + rank_; }
  // Product of the extents (1 for rank 0).
  std::size_t element_count() const noexcept { return elements_; }
  // Elements in one step of the first dimension (product of the other extents).
  std::size_t row_elements() const noexcept;
  // element_count() * dtype_bytes(dtype); throws Error(invalid_argument) on overflow.
  std::size_t byte_count(DType dtype) const;
  // "[1024, 1024, 3]"
  std::string to_string() const;
  // Appends a dimension; throws Error(invalid_argument) past kMaxRank or on overflow.
  void push_back(std::size_t extent);

  friend bool operator==(const Shape& a, const Shape& b) noexcept {
    return a.rank_ == b.rank_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  std::array<std::size_t, kMaxRank> extents_{};
  std::size_t rank_ = 0;
  std::size_t elements_ = 1;
};

}  // namespace strata
