// The 5-point 2-D stencil of explicit heat diffusion, with SIMD (Highway, run-time dispatch):
//   out[i][j] = in[i][j] + alpha * (in[i-1][j] + in[i+1][j] + in[i][j-1] + in[i][j+1] - 4 in[i][j])
// over rows [row_first, row_last) and columns 1 .. nx-2 of row-major grids with nx columns; the
// first and last column of those rows are copied unchanged (fixed boundary). Rows row_first - 1
// and row_last must exist in `in` (halo rows). Splitting the rows among threads gives the same
// bits as one call.
#pragma once

#include <cstddef>
#include <span>

namespace strata::kernels {

// Throws std::invalid_argument when the grids are too small for the rows asked for, or the
// rows lack their halo (row_first < 1 or row_last > rows - 1).
void stencil5(std::span<const double> in, std::span<double> out, std::size_t nx,
              std::size_t row_first, std::size_t row_last, double alpha);

}  // namespace strata::kernels
