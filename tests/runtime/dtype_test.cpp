// SPDX-License-Identifier: Apache-2.0
// Tests of DType and Shape: names, sizes and overflow-checked counts.
#include "strata/runtime/base/dtype.hpp"

#include <gtest/gtest.h>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::DType;
using strata::Shape;

// Proves every dtype name parses back to itself and has the size of its C++ type.
TEST(DType, NamesRoundTripAndSizesMatch) {
  for (DType d : {DType::f32, DType::f64, DType::i8, DType::i16, DType::i32, DType::i64, DType::u8,
                  DType::u16, DType::u32, DType::u64}) {
    EXPECT_EQ(strata::parse_dtype(strata::to_string(d)), d);
  }
  EXPECT_EQ(strata::dtype_bytes(strata::dtype_of<double>()), sizeof(double));
  EXPECT_EQ(strata::dtype_bytes(strata::dtype_of<std::int16_t>()), 2u);
  EXPECT_THROW(strata::parse_dtype("f16"), strata::Error);
}

// Proves element and row counts are the products of the extents.
TEST(Shape, CountsElementsAndRows) {
  Shape s{4, 5, 6};
  EXPECT_EQ(s.rank(), 3u);
  EXPECT_EQ(s.element_count(), 120u);
  EXPECT_EQ(s.row_elements(), 30u);
  EXPECT_EQ(s.byte_count(DType::f64), 960u);
  EXPECT_EQ(s.to_string(), "[4, 5, 6]");
  EXPECT_EQ(Shape{}.element_count(), 1u);
}

// Proves shapes whose element or byte count overflows, or with more than 8 dimensions, are
// invalid_argument errors instead of wrapped sizes.
TEST(Shape, RejectsOverflowAndTooManyDimensions) {
  EXPECT_THROW((Shape{std::size_t{1} << 40, std::size_t{1} << 40}), strata::Error);
  Shape big{std::size_t{1} << 62};
  EXPECT_THROW(big.byte_count(DType::f64), strata::Error);
  EXPECT_THROW((Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}), strata::Error);
  EXPECT_NO_THROW((Shape{1, 1, 1, 1, 1, 1, 1, 1}));
}

}  // namespace
