// SPDX-License-Identifier: Apache-2.0
// partition_rows: the row split of docs/formats.md.
#include "strata/io/dataset/partition.hpp"

#include <string>

#include "strata/runtime/base/error.hpp"

namespace strata::io {

RowRange partition_rows(std::uint64_t rows, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size) {
    throw Error(ErrorCategory::invalid_argument, "partition needs 0 <= rank < size",
                {{"rank", std::to_string(rank)}, {"size", std::to_string(size)}});
  }
  const auto r = static_cast<std::uint64_t>(rank);
  const auto n = static_cast<std::uint64_t>(size);
  const std::uint64_t q = rows / n;
  const std::uint64_t m = rows % n;
  return {r * q + (r < m ? r : m), q + (r < m ? 1 : 0)};
}

}  // namespace strata::io
