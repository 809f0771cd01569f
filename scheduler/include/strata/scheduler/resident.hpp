// SPDX-License-Identifier: Apache-2.0
// Resident loading: a dataset copied once into placed memory, each block by the threads of the
// NUMA node it is planned on, so first touch puts its pages there and later passes read local
// memory at full bandwidth — the "resident" way of docs/design.md, next to mapped and streaming.
//
//   auto energy = strata::load_resident<double>(ex, rt.memory(), "energy", part.shape(),
//                                               strata::io::byte_source(part));
//   auto s = strata::reduce(ex, energy, strata::kernels::Stats{});
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "strata/runtime/memory/array.hpp"
#include "strata/runtime/memory/memory_manager.hpp"
#include "strata/scheduler/byte_source.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata {

// Allocates an array of `shape` (MemoryManager::allocate_array with `options`, populate forced
// off) and fills it from `source`, chunk by chunk in the arena of each block's node: with
// source.read when the source has it (pread straight into the array, each checksum chunk verified
// on the copy in the same pass), else by copying the source's views. Source pages
// are released behind the copy when the source takes advice, so a mapped file does not stay in
// the resident set twice. Error(invalid_argument) when the source's size differs from the
// array's; errors of the allocation and of the source's views (a corrupt chunk) propagate.
ArrayStorage load_resident(Executor& ex, MemoryManager& memory, std::string name, DType dtype,
                           const Shape& shape, const ByteSource& source, ArrayOptions options = {});

// Fills `target` with [source_offset, source_offset + target.size()) of `source`, in parallel,
// split evenly over the executor's nodes (ChunkPlan::even), each piece in its node's arena: with
// source.read when the source has it (straight into `target`, verified on the way), else by
// copying its views. For memory the caller already holds (a node-shared segment).
// Error(invalid_argument) when the range is outside the source; the source's errors propagate.
void load_into(Executor& ex, const ByteSource& source, std::uint64_t source_offset,
               std::span<std::byte> target);

template <class T>
Array<T> load_resident(Executor& ex, MemoryManager& memory, std::string name, const Shape& shape,
                       const ByteSource& source, ArrayOptions options = {}) {
  return Array<T>(
      load_resident(ex, memory, std::move(name), dtype_of<T>(), shape, source, std::move(options)));
}

}  // namespace strata
