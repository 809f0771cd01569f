// SPDX-License-Identifier: Apache-2.0
// load_resident: allocate unpopulated, then copy each plan block in its node's arena so the
// copying threads' first touch places the pages (with the block's preferred-node policy agreeing).
#include "strata/scheduler/resident.hpp"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/files/mapped_read_guard.hpp"
#include "strata/scheduler/parallel.hpp"

namespace strata {
namespace {

// The read piece: about the executor's chunk, a whole number of the source's grains.
std::uint64_t read_piece_bytes(const Executor& ex, const ByteSource& source) {
  const std::uint64_t grain = source.read_grain_bytes;
  std::uint64_t piece = ex.chunk_bytes();
  if (grain != 0) piece = std::max<std::uint64_t>(1, (piece + grain / 2) / grain) * grain;
  return piece;
}

// Reads each part of `plan` (bytes of `target`, which holds the source from `source_offset` on)
// with source.read, in the part's node arena, in pieces that start on the source's grain grid, so
// no grain is split between two threads except where a node's part ends inside one.
void read_into(Executor& ex, const ChunkPlan& plan, const ByteSource& source,
               std::uint64_t source_offset, std::byte* target) {
  const std::uint64_t grain = source.read_grain_bytes;
  const std::uint64_t piece = read_piece_bytes(ex, source);
  // The grid's first point in target coordinates.
  const std::uint64_t origin =
      grain == 0 ? 0 : (source.read_grain_offset % grain + grain - source_offset % grain) % grain;
  const auto& parts = plan.parts();
  std::vector<unsigned> nodes;
  nodes.reserve(parts.size());
  for (const auto& part : parts) nodes.push_back(part.node);
  ex.run_on_nodes(nodes, [&](std::size_t p) {
    const std::uint64_t lo = parts[p].first;
    const std::uint64_t hi = lo + parts[p].count;
    // Piece boundaries: lo, the grid points origin + k * piece inside (lo, hi), then hi.
    const std::uint64_t first_cut =
        lo < origin ? origin : origin + ((lo - origin) / piece + 1) * piece;
    const std::uint64_t cuts = first_cut >= hi ? 0 : (hi - first_cut + piece - 1) / piece;
    oneapi::tbb::parallel_for(std::uint64_t{0}, cuts + 1, [&](std::uint64_t k) {
      const std::uint64_t begin = k == 0 ? lo : first_cut + (k - 1) * piece;
      const std::uint64_t end = std::min(hi, k < cuts ? first_cut + k * piece : hi);
      if (end > begin) {
        source.read(source_offset + begin, {target + begin, static_cast<std::size_t>(end - begin)});
      }
    });
  });
}

}  // namespace

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
  if (source.read) {
    read_into(ex, plan, source, 0, target);
    return storage;
  }
  detail::for_each_chunk_range(ex, plan, 1, [&](ElementRange r) {
    std::span<const std::byte> from = source.checked_view(r.first, r.count);
    guard_mapped_read(from, [&] { std::memcpy(target + r.first, from.data(), r.count); });
    source.advise_if(r.first, r.count, SourceAdvice::dontneed);
  });
  return storage;
}

}  // namespace strata

namespace strata {

void load_into(Executor& ex, const ByteSource& source, std::uint64_t source_offset,
               std::span<std::byte> target) {
  if (source_offset > source.size_bytes || target.size() > source.size_bytes - source_offset) {
    throw Error(ErrorCategory::invalid_argument, "range outside the byte source",
                {{"offset", std::to_string(source_offset)},
                 {"bytes", std::to_string(target.size())},
                 {"source_bytes", std::to_string(source.size_bytes)}});
  }
  if (target.empty()) return;
  if (!source.read) {
    const ChunkPlan plan = ChunkPlan::even(ex.topology(), target.size(), ex.chunk_bytes());
    detail::for_each_chunk_range(ex, plan, 1, [&](ElementRange r) {
      std::span<const std::byte> from = source.checked_view(source_offset + r.first, r.count);
      guard_mapped_read(from, [&] { std::memcpy(target.data() + r.first, from.data(), r.count); });
    });
    return;
  }
  const ChunkPlan plan =
      ChunkPlan::even(ex.topology(), target.size(), read_piece_bytes(ex, source));
  read_into(ex, plan, source, source_offset, target.data());
}

}  // namespace strata
