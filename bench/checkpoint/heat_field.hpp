// SPDX-License-Identifier: Apache-2.0
// The state every case saves: a 2-D f64 heat field like the one examples/heat evolves (a hot top
// edge and a hot spot) after the heat has diffused for a while, so that it compresses as a
// simulation's state does, not as noise and not as zeros.
#pragma once

#include <cstddef>
#include <span>

namespace strata::bench::checkpoint {

// Fills `field` (rows x cols, row-major) with a hot disk of radius cols / 4 at the centre (2.0)
// and a hot top edge (1.0) diffused over a length of cols / 16 cells: 2 (1 - erf((r - R) / L)) / 2
// plus 1 - erf(row / L). Values vary smoothly in every bit of the mantissa out to about 6 L from
// the disk's rim (some 60 % of a 2:1 grid) and are exactly 0.0 beyond, where the heat has not
// arrived; every row differs from the next. A field with repeated rows (a diffused square, whose
// solution is separable) would compress some twenty-fold and flatter zstd. Deterministic.
void fill_heat_field(std::span<double> field, std::size_t rows, std::size_t cols);

}  // namespace strata::bench::checkpoint
