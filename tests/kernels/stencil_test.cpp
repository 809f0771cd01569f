// SPDX-License-Identifier: Apache-2.0
// Tests of strata::kernels::stencil5 against the formula of its header evaluated here: every
// compiled SIMD target, grid widths around the vector widths, misaligned grids, the same bits
// for any split of the rows, NaN spreading, and the size contract.
#include "strata/kernels/stencil.hpp"

#include <gtest/gtest.h>
#include <hwy/tests/hwy_gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

#include "strata/kernels/transform.hpp"

namespace {

using strata::kernels::stencil5;

constexpr double kAlpha = 0.23;
constexpr double kUntouched = -12345.0;

std::vector<double> random_grid(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> any(-50.0, 50.0);
  std::vector<double> v(n);
  for (auto& x : v) x = any(rng);
  return v;
}

// The header's formula for rows [first, last), the last step fused or not.
std::vector<double> reference(std::span<const double> in, std::size_t nx, std::size_t rows,
                              std::size_t first, std::size_t last, bool fused) {
  std::vector<double> out(rows * nx, kUntouched);
  for (std::size_t i = first; i < last; ++i) {
    for (std::size_t j = 0; j < nx; ++j) {
      const double c = in[i * nx + j];
      if (j == 0 || j == nx - 1) {
        out[i * nx + j] = c;
        continue;
      }
      const double laplacian =
          in[(i - 1) * nx + j] + in[(i + 1) * nx + j] + in[i * nx + j - 1] + in[i * nx + j + 1] -
          4 * c;
      volatile double product = kAlpha * laplacian;  // volatile: no fusing behind our back
      out[i * nx + j] = fused ? std::fma(kAlpha, laplacian, c) : product + c;
    }
  }
  return out;
}

bool same_bits(std::span<const double> a, std::span<const double> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

class StencilTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(StencilTest);

// Proves the kernel equals the formula (fused everywhere or unfused everywhere), copies the
// boundary columns, and leaves other rows alone, for widths around every vector width and
// grids starting 0..3 elements off alignment.
TEST_P(StencilTest, MatchesFormulaForOddWidthsAndOffsets) {
  for (std::size_t nx : {1, 2, 3, 4, 5, 9, 16, 17, 67}) {
    const std::size_t rows = 7;
    for (std::size_t offset = 0; offset <= 3; ++offset) {
      SCOPED_TRACE(testing::Message() << "nx=" << nx << " offset=" << offset);
      const auto storage = random_grid(rows * nx + offset, nx);
      const std::span<const double> in(storage.data() + offset, rows * nx);
      std::vector<double> out_storage(rows * nx + offset, kUntouched);
      const std::span<double> out(out_storage.data() + offset, rows * nx);
      stencil5(in, out, nx, 2, rows - 1, kAlpha);
      const auto fused = reference(in, nx, rows, 2, rows - 1, true);
      const auto plain = reference(in, nx, rows, 2, rows - 1, false);
      if (nx >= 16) {  // the data must tell the two rounding rules apart
        ASSERT_FALSE(same_bits(fused, plain));
      }
      EXPECT_TRUE(same_bits(out, fused) || same_bits(out, plain));
    }
  }
}

// Proves any split of the rows into bands gives bit-identical results to one call.
TEST_P(StencilTest, SplitRowsGiveTheSameBits) {
  const std::size_t nx = 131, rows = 40;
  const auto in = random_grid(nx * rows, 3);
  std::vector<double> whole(nx * rows, kUntouched);
  stencil5(in, whole, nx, 1, rows - 1, kAlpha);
  for (std::size_t bands : {2, 3, 7, 38}) {
    std::vector<double> split(nx * rows, kUntouched);
    std::size_t first = 1;
    for (std::size_t b = 0; b < bands; ++b) {
      const std::size_t last = 1 + (rows - 2) * (b + 1) / bands;
      stencil5(in, split, nx, first, last, kAlpha);
      first = last;
    }
    EXPECT_TRUE(same_bits(split, whole)) << bands << " bands";
  }
}

// Proves grids above the streaming threshold (written with streaming stores from the first
// aligned column) match the formula and split the same way, at misaligned starts.
TEST_P(StencilTest, LargeGridsMatchFormulaAndSplitAlike) {
  const std::size_t nx = 1031, rows = 600;  // 4.7 MiB of output
  static_assert(nx * rows * sizeof(double) > strata::kernels::kStreamingCopyBytes);
  for (std::size_t offset : {0, 1, 3}) {
    SCOPED_TRACE(testing::Message() << "offset=" << offset);
    const auto storage = random_grid(nx * rows + offset, offset);
    const std::span<const double> in(storage.data() + offset, nx * rows);
    std::vector<double> whole_storage(nx * rows + offset, kUntouched);
    std::vector<double> split_storage(nx * rows + offset, kUntouched);
    const std::span<double> whole(whole_storage.data() + offset, nx * rows);
    const std::span<double> split(split_storage.data() + offset, nx * rows);
    stencil5(in, whole, nx, 1, rows - 1, kAlpha);
    stencil5(in, split, nx, 1, 250, kAlpha);
    stencil5(in, split, nx, 250, rows - 1, kAlpha);
    EXPECT_TRUE(same_bits(whole, split));
    EXPECT_TRUE(same_bits(whole, reference(in, nx, rows, 1, rows - 1, true)) ||
                same_bits(whole, reference(in, nx, rows, 1, rows - 1, false)));
  }
}

// Proves the NaN policy: one NaN input makes exactly its own output and its four neighbours'
// NaN; an infinity makes its neighbours infinite and itself NaN (inf - 4 inf).
TEST_P(StencilTest, NaNSpreadsToItselfAndFourNeighbours) {
  const std::size_t nx = 21, rows = 9;
  auto in = random_grid(nx * rows, 4);
  in[4 * nx + 10] = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> out(nx * rows);
  stencil5(in, out, nx, 1, rows - 1, kAlpha);
  std::size_t nans = 0;
  for (double v : out) nans += std::isnan(v) ? 1 : 0;
  EXPECT_EQ(nans, 5u);
  EXPECT_TRUE(std::isnan(out[3 * nx + 10]) && std::isnan(out[5 * nx + 10]) &&
              std::isnan(out[4 * nx + 9]) && std::isnan(out[4 * nx + 11]));

  in[4 * nx + 10] = std::numeric_limits<double>::infinity();
  stencil5(in, out, nx, 1, rows - 1, kAlpha);
  EXPECT_TRUE(std::isnan(out[4 * nx + 10]));
  EXPECT_EQ(out[3 * nx + 10], std::numeric_limits<double>::infinity());
}

// Proves the contract: missing halo rows, short grids, nx = 0, reversed rows and overlapping
// grids are std::invalid_argument; an empty band is allowed and writes nothing.
TEST(Stencil, RejectsMissingHaloAndShortGrids) {
  const std::size_t nx = 8, rows = 6;
  std::vector<double> in(nx * rows, 1.0), out(nx * rows, kUntouched);
  EXPECT_THROW(stencil5(in, out, nx, 0, 3, kAlpha), std::invalid_argument);
  EXPECT_THROW(stencil5(in, out, nx, 1, rows, kAlpha), std::invalid_argument);
  EXPECT_THROW(stencil5(in, std::span(out).first(nx * 3), nx, 1, 4, kAlpha),
               std::invalid_argument);
  EXPECT_THROW(stencil5(in, out, 0, 1, 2, kAlpha), std::invalid_argument);
  EXPECT_THROW(stencil5(in, out, nx, 3, 2, kAlpha), std::invalid_argument);
  EXPECT_THROW(stencil5(in, std::span(in), nx, 1, 2, kAlpha), std::invalid_argument);
  EXPECT_NO_THROW(stencil5(in, out, nx, 3, 3, kAlpha));
  EXPECT_EQ(out, std::vector<double>(nx * rows, kUntouched));
  EXPECT_NO_THROW(stencil5(in, std::span(out).first(nx * (rows - 1)), nx, 1, rows - 1, kAlpha));
}

}  // namespace
