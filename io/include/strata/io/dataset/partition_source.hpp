// A dataset partition as the scheduler's ByteSource, so streaming and resident loading work on
// datasets although the scheduler sits below io: views verify only the chunks they cover, and
// advice reaches the mapped .strata file (an HDF5 partition, already read into memory, takes none).
//
//   auto part = ds.partition(rt.rank(), rt.size());
//   auto energy = strata::load_resident<double>(ex, rt.memory(), "energy", part.shape(),
//                                               strata::io::byte_source(part));
//   auto s = strata::reduce_streaming<double>(ex, strata::io::byte_source(part), Stats{});
#pragma once

#include "strata/io/dataset/dataset.hpp"
#include "strata/scheduler/byte_source.hpp"

namespace strata::io {

// The partition's bytes. The source keeps the partition (and its file) alive. Advice is taken
// once a view has shown where the partition is mapped: read-ahead before the first view is
// skipped, because asking for the address would verify, that is read, the first chunk.
ByteSource byte_source(const Partition& partition);

}  // namespace strata::io
