// SPDX-License-Identifier: Apache-2.0
// The one rule strata uses to split the rows (first dimension) of a dataset among ranks: every
// reader of `.strata` and HDF5 data, and later the checkpoint redistribution, goes through it.
//
//   auto mine = strata::io::partition_rows(rows, rt.rank(), rt.size());   // {first, count}
#pragma once

#include <cstdint>

namespace strata::io {

// Rows [first, first + count) of the first dimension.
struct RowRange {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
  friend bool operator==(const RowRange&, const RowRange&) = default;
};

// docs/formats.md, "Partitions": rank r of size gets q + 1 rows if r < m else q, starting at
// r * q + min(r, m), where q = rows / size and m = rows % size — the first m ranks take one extra
// row. Throws Error(invalid_argument) when size < 1 or rank is outside [0, size).
RowRange partition_rows(std::uint64_t rows, int rank, int size);

}  // namespace strata::io
