// SPDX-License-Identifier: Apache-2.0
// SlabPlan: covers an n-dimensional array with hyperslabs of bounded size, in row-major order,
// so import and export move datasets of any size through a fixed amount of memory. Blocks split
// only the outermost dimension they must: whole rows when a row fits, parts of a row otherwise.
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace strata::io::detail {

class SlabPlan {
 public:
  // `max_bytes` must be at least `element_bytes`. When `align` > 1 (a chunk extent along the
  // split dimension), block extents along that dimension are rounded down to a multiple of it if
  // that leaves at least one, so a chunked dataset's chunks are each read or written once.
  SlabPlan(std::span<const hsize_t> extents, std::size_t element_bytes, std::size_t max_bytes,
           std::span<const hsize_t> align = {});

  std::uint64_t slab_count() const noexcept { return slab_count_; }
  std::size_t largest_slab_bytes() const noexcept { return largest_bytes_; }
  // Extents of the largest block: 1 before the split dimension, the step along it, the full
  // extents after it. Empty for rank 0 or an empty array.
  std::vector<hsize_t> largest_block() const;

  // Calls visit(start, count, bytes) for every block, in row-major order: the blocks' bytes
  // concatenated are the array's bytes. For rank 0, one call with empty start and count.
  template <class Visit>
  void for_each(Visit&& visit) const {
    const std::size_t rank = extents_.size();
    if (slab_count_ == 0) return;
    std::vector<hsize_t> start(rank, 0);
    std::vector<hsize_t> count(extents_);
    for (std::size_t d = 0; d < split_dim_; ++d) count[d] = 1;
    for (std::uint64_t outer = 0; outer < outer_count_; ++outer) {
      // Row-major index of `outer` over the dimensions before the split one.
      std::uint64_t rest = outer;
      for (std::size_t d = split_dim_; d-- > 0;) {
        start[d] = rest % extents_[d];
        rest /= extents_[d];
      }
      if (rank == 0) {
        visit(std::span<const hsize_t>(start), std::span<const hsize_t>(count), inner_bytes_);
        continue;
      }
      const hsize_t extent = extents_[split_dim_];
      for (hsize_t at = 0; at < extent; at += step_) {
        start[split_dim_] = at;
        count[split_dim_] = extent - at < step_ ? extent - at : step_;
        visit(std::span<const hsize_t>(start), std::span<const hsize_t>(count),
              static_cast<std::size_t>(count[split_dim_]) * inner_bytes_);
      }
    }
  }

 private:
  std::vector<hsize_t> extents_;
  std::size_t split_dim_ = 0;      // the dimension blocks split
  hsize_t step_ = 1;               // block extent along split_dim_
  std::size_t inner_bytes_ = 0;    // bytes of one index step along split_dim_
  std::uint64_t outer_count_ = 1;  // index tuples of the dimensions before split_dim_
  std::uint64_t slab_count_ = 0;
  std::size_t largest_bytes_ = 0;
};

}  // namespace strata::io::detail
