// SPDX-License-Identifier: Apache-2.0
// byte_source(Partition): views through Partition::bytes (lazy verification); advice through a
// memory source over the partition's mapping, made when the first view reveals its address; the
// executor chunk that reduce(ex, partition, acc) uses.
#include "strata/io/dataset/partition_source.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

namespace strata::io {
namespace {

struct PartitionSourceState {
  Partition partition;
  std::uint64_t bytes = 0;
  std::atomic<const std::byte*> base{nullptr};
  std::once_flag advice_once;
  ByteSource memory;  // set once through advice_once; only its advise is used

  PartitionSourceState(Partition p, std::uint64_t n) : partition(std::move(p)), bytes(n) {}
};

}  // namespace

ByteSource byte_source(const Partition& partition) {
  const std::uint64_t bytes = partition.rows().count * partition.row_bytes();
  auto state = std::make_shared<PartitionSourceState>(partition, bytes);
  ByteSource source;
  source.size_bytes = bytes;
  source.view = [state](std::uint64_t offset, std::uint64_t n) {
    std::span<const std::byte> v = state->partition.bytes(offset, n);
    if (!v.empty()) state->base.store(v.data() - offset, std::memory_order_release);
    return v;
  };
  source.read = [state](std::uint64_t offset, std::span<std::byte> out) {
    state->partition.read(offset, out);
  };
  source.read_grain_bytes = partition.checksum_chunk_bytes();
  if (source.read_grain_bytes != 0) {
    const std::uint64_t into = partition.checksum_chunk_offset();
    source.read_grain_offset = into == 0 ? 0 : source.read_grain_bytes - into;
  }
  source.advise = [state](std::uint64_t offset, std::uint64_t n, SourceAdvice advice) {
    const std::byte* base = state->base.load(std::memory_order_acquire);
    if (base == nullptr) return;
    // from_memory checks once that the pages are a re-readable file mapping, so the rows an HDF5
    // partition owns (heap memory) are never released.
    std::call_once(state->advice_once, [&] {
      state->memory = ByteSource::from_memory({base, static_cast<std::size_t>(state->bytes)});
    });
    state->memory.advise_if(offset, n, advice);
  };
  return source;
}

std::size_t reduce_chunk_elements(const Partition& partition, std::size_t executor_chunk_bytes,
                                  std::size_t element_bytes) {
  const std::uint64_t file_chunk = partition.checksum_chunk_bytes();
  std::uint64_t chunk = executor_chunk_bytes;
  if (file_chunk != 0) {
    // The nearest whole number of checksum chunks (a multiple of 4 KiB, so of every element size).
    chunk = std::max<std::uint64_t>(1, (chunk + file_chunk / 2) / file_chunk) * file_chunk;
  }
  return static_cast<std::size_t>(std::max<std::uint64_t>(1, chunk / element_bytes));
}

}  // namespace strata::io
