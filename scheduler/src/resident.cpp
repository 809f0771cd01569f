// SPDX-License-Identifier: Apache-2.0
// load_resident: allocate unpopulated, then copy each plan block in its node's arena so the
// copying threads' first touch places the pages (with the block's preferred-node policy agreeing).
#include "strata/scheduler/resident.hpp"

#include <cstring>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/files/mapped_read_guard.hpp"
#include "strata/scheduler/parallel.hpp"

namespace strata {

ArrayStorage load_resident(Executor& ex, MemoryManager& memory, std::string name, DType dtype,
                           const Shape& shape, const ByteSource& source, ArrayOptions options) {
  const std::size_t bytes = shape.byte_count(dtype);
  if (source.size_bytes != bytes) {
    throw Error(ErrorCategory::invalid_argument, "source size differs from the array's",
                {{"array", name},
                 {"array_bytes", std::to_string(bytes)},
                 {"source_bytes", std::to_string(source.size_bytes)}});
  }
  options.populate = false;  // the copy below is the first touch, by the right node's threads
  ArrayStorage storage = memory.allocate_array(std::move(name), dtype, shape, options);
  if (bytes == 0) return storage;
  // Bytes as elements: chunk boundaries fall on the executor's page-multiple grid.
  const ChunkPlan plan =
      ChunkPlan::follow(storage.plan(), storage.plan().row_bytes(), ex.chunk_bytes());
  std::byte* target = storage.data();
  detail::for_each_chunk_range(ex, plan, 1, [&](ElementRange r) {
    std::span<const std::byte> from = source.checked_view(r.first, r.count);
    guard_mapped_read(from, [&] { std::memcpy(target + r.first, from.data(), r.count); });
    source.advise_if(r.first, r.count, SourceAdvice::dontneed);
  });
  return storage;
}

}  // namespace strata
