// SPDX-License-Identifier: Apache-2.0
// The diffused hot disk and top edge of heat_field.hpp, cell by cell.
#include "heat_field.hpp"

#include <cmath>

namespace strata::bench::checkpoint {

void fill_heat_field(std::span<double> field, std::size_t rows, std::size_t cols) {
  const double length = static_cast<double>(cols) / 16.0;
  const double radius = static_cast<double>(cols) / 4.0;
  const double centre_row = static_cast<double>(rows) / 2.0;
  const double centre_col = static_cast<double>(cols) / 2.0;
  for (std::size_t i = 0; i < rows; ++i) {
    const double y = static_cast<double>(i) + 0.5;
    // 1 - erf, not erfc: erfc would leave tiny nonzero values (down to 1e-308) where a real
    // run's heat has not arrived, and 1 - erf is exactly 0.0 there.
    const double edge = 1.0 - std::erf(y / length);
    const double dy = y - centre_row;
    double* row = field.data() + i * cols;
    for (std::size_t j = 0; j < cols; ++j) {
      const double dx = static_cast<double>(j) + 0.5 - centre_col;
      const double r = std::sqrt(dx * dx + dy * dy);
      row[j] = (1.0 - std::erf((r - radius) / length)) + edge;
    }
  }
}

}  // namespace strata::bench::checkpoint
