// SPDX-License-Identifier: Apache-2.0
// SlabPlan: choosing the dimension to split and the block extent along it (see hdf5_slabs.hpp).
#include "hdf5/hdf5_slabs.hpp"

#include <algorithm>

namespace strata::io::detail {

SlabPlan::SlabPlan(std::span<const hsize_t> extents, std::size_t element_bytes,
                   std::size_t max_bytes, std::span<const hsize_t> align)
    : extents_(extents.begin(), extents.end()) {
  const std::size_t rank = extents_.size();
  if (rank == 0) {
    inner_bytes_ = element_bytes;
    slab_count_ = 1;
    largest_bytes_ = element_bytes;
    return;
  }
  if (std::find(extents_.begin(), extents_.end(), hsize_t{0}) != extents_.end()) return;

  // inner[k]: bytes of one index step along dimension k. Shape already checked the byte count
  // for overflow, so these products fit.
  std::vector<std::size_t> inner(rank);
  inner[rank - 1] = element_bytes;
  for (std::size_t d = rank - 1; d-- > 0;) inner[d] = inner[d + 1] * extents_[d + 1];
  // The outermost dimension whose single step fits; the last one always does.
  split_dim_ = rank - 1;
  for (std::size_t d = 0; d < rank; ++d) {
    if (inner[d] <= max_bytes) {
      split_dim_ = d;
      break;
    }
  }
  inner_bytes_ = inner[split_dim_];
  const hsize_t extent = extents_[split_dim_];
  step_ = std::max<hsize_t>(1, std::min<hsize_t>(extent, max_bytes / inner_bytes_));
  if (split_dim_ < align.size() && align[split_dim_] > 1 && step_ >= align[split_dim_] &&
      step_ < extent) {
    step_ -= step_ % align[split_dim_];
  }
  for (std::size_t d = 0; d < split_dim_; ++d) outer_count_ *= extents_[d];
  slab_count_ = outer_count_ * ((extent + step_ - 1) / step_);
  largest_bytes_ = static_cast<std::size_t>(step_) * inner_bytes_;
}

std::vector<hsize_t> SlabPlan::largest_block() const {
  if (extents_.empty() || slab_count_ == 0) return {};
  std::vector<hsize_t> block(extents_);
  for (std::size_t d = 0; d < split_dim_; ++d) block[d] = 1;
  block[split_dim_] = step_;
  return block;
}

}  // namespace strata::io::detail
