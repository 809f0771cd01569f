// SPDX-License-Identifier: Apache-2.0
// A dataset partition for the scheduler, which sits below io: reduce(ex, partition, acc), one
// pass in which each thread verifies the checksum chunks it consumes, and the partition as a
// ByteSource, so streaming and resident loading work on datasets: views verify only the chunks
// they cover, and advice reaches the mapped .strata file (an HDF5 partition, already read into
// memory, takes none).
//
//   auto s = strata::reduce<double>(ex, part, strata::kernels::Stats{});
//   auto part = ds.partition(rt.rank(), rt.size());
//   auto energy = strata::load_resident<double>(ex, rt.memory(), "energy", part.shape(),
//                                               strata::io::byte_source(part));
//   auto s = strata::reduce_streaming<double>(ex, strata::io::byte_source(part), Stats{});
#pragma once

#include "strata/io/dataset/dataset.hpp"
#include "strata/scheduler/byte_source.hpp"
#include "strata/scheduler/parallel.hpp"

namespace strata::io {

// The partition's bytes. The source keeps the partition (and its file) alive. Advice is taken
// once a view has shown where the partition is mapped: read-ahead before the first view is
// skipped, because asking for the address would verify, that is read, the first chunk.
ByteSource byte_source(const Partition& partition);

// Elements per executor chunk for reducing `partition` as elements of `element_bytes`: the
// executor's chunk rounded to a whole number (at least one) of the file's checksum chunks, so a
// partition that starts on a checksum chunk (every single-rank partition) gives each checksum chunk
// to exactly one executor chunk; the executor's own chunk when the data has no checksums.
std::size_t reduce_chunk_elements(const Partition& partition, std::size_t executor_chunk_bytes,
                                  std::size_t element_bytes);

}  // namespace strata::io

namespace strata {

// Reduces a dataset partition as elements of T in one parallel pass: each executor chunk is viewed
// through Partition::bytes in the thread that consumes it, which verifies the checksum chunks it
// covers (once per opened Dataset) before the accumulator sees a value, under the mapped-read
// guard. Chunks follow io::reduce_chunk_elements; the result has the bits of reduce() over
// part.as<T>() with the same chunk size. Error(invalid_argument) when T is not the dtype;
// Error(corrupt_data) naming file, array and chunk for a bad chunk, after the chunks in flight end.
template <class T, Accumulator<T> A>
A reduce(Executor& ex, const io::Partition& partition, A init) {
  partition.check_dtype(dtype_of<T>());
  const std::size_t elements = static_cast<std::size_t>(partition.size_bytes() / sizeof(T));
  const ChunkPlan plan = ChunkPlan::even(
      ex.topology(), elements, io::reduce_chunk_elements(partition, ex.chunk_bytes(), sizeof(T)));
  return detail::reduce_chunks<T>(ex, plan, init, [&partition](std::size_t first, std::size_t n) {
    const std::span<const std::byte> b = partition.bytes(first * sizeof(T), n * sizeof(T));
    return std::span<const T>(reinterpret_cast<const T*>(b.data()), n);
  });
}

}  // namespace strata
