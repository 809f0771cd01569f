// SPDX-License-Identifier: Apache-2.0
// The 5-point 2-D stencil of explicit heat diffusion, with SIMD (Highway, run-time dispatch):
//   out[i][j] = in[i][j] + alpha * (in[i-1][j] + in[i+1][j] + in[i][j-1] + in[i][j+1] - 4 in[i][j])
// over rows [row_first, row_last) and columns 1 .. nx-2 of row-major grids with nx columns; the
// first and last column of those rows are copied unchanged (fixed boundary). Rows row_first - 1
// and row_last must exist in `in` (halo rows). Splitting the rows among threads gives the same
// bits as one call.
//
// Rounding: the sum is taken left to right as written, and the last step is one fused
// multiply-add where the CPU has FMA (AVX2, AVX-512), a multiply then an add elsewhere; either
// way every element of every call on one machine follows the same rule. NaN and infinity follow
// IEEE arithmetic: a NaN in `in` makes its own output and its four neighbours' NaN.
//
// When `out` is larger than kStreamingCopyBytes (transform.hpp), rows are written with streaming
// stores and a store fence, as copy() does: such a grid is not reread from cache anyway.
//
//   strata::kernels::stencil5(u, v, nx, 1, ny - 1, 0.2);   // interior rows of an ny x nx grid
#pragma once

#include <cstddef>
#include <span>

namespace strata::kernels {

// Throws std::invalid_argument when nx is 0, the grids are too small for the rows asked for
// (in needs rows 0 .. row_last, i.e. (row_last + 1) * nx elements; out needs row_last * nx),
// the rows lack their halo (row_first < 1, or row_last > in.size() / nx - 1), row_first >
// row_last, or in and out overlap. Rows of `out` outside [row_first, row_last) are not touched.
void stencil5(std::span<const double> in, std::span<double> out, std::size_t nx,
              std::size_t row_first, std::size_t row_last, double alpha);

}  // namespace strata::kernels
