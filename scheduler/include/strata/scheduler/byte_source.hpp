// SPDX-License-Identifier: Apache-2.0
// ByteSource: bytes that the scheduler reads in ranges — for streaming a dataset larger than
// memory and for loading it resident — with advice to read a range ahead or release it behind.
// The scheduler cannot know io's datasets (io sits above it), so a source is two callables;
// strata::io::byte_source(partition) makes one for a dataset partition, from_memory() for a span
// of a mapped file.
//
//   auto f = strata::MappedFile::open("big.bin");
//   auto src = strata::ByteSource::from_memory(f.bytes(0, f.size()));
//   auto s = strata::reduce_streaming<double>(ex, src, strata::kernels::Stats{});
#pragma once

#include <cstdint>
#include <functional>
#include <span>

namespace strata {

enum class SourceAdvice {
  willneed,  // start reading the range in now (MADV_WILLNEED); asynchronous
  dontneed,  // drop the range from this process's resident set (MADV_DONTNEED); the file keeps it
  cold,      // mark the range as first to reclaim (MADV_COLD); resident set unchanged for now
  pageout,   // reclaim the range now (MADV_PAGEOUT): out of the resident set and the page cache
};

struct ByteSource {
  std::uint64_t size_bytes = 0;
  // A view of [offset, offset + bytes), valid as long as the source; may verify or fault pages
  // in. Called concurrently from the arenas' threads.
  std::function<std::span<const std::byte>(std::uint64_t offset, std::uint64_t bytes)> view;
  // Advice on [offset, offset + bytes); empty when the source takes none. May be called
  // concurrently. A source only releases what it can read again: never private or anonymous
  // memory.
  std::function<void(std::uint64_t offset, std::uint64_t bytes, SourceAdvice advice)> advise;
  // Copies [offset, offset + out.size()) into `out`, verifying it on the way; empty when the
  // source only has views. When set, load_resident reads straight into the array with it (one
  // copy, no mapping in between). Called concurrently.
  std::function<void(std::uint64_t offset, std::span<std::byte> out)> read;
  // The unit read() verifies in (a dataset's checksum chunk), 0 for none: load_resident reads
  // whole multiples of it, starting `read_grain_offset` bytes into the source, so that each grain
  // is read, and verified on the copy, by one thread.
  std::uint64_t read_grain_bytes = 0;
  std::uint64_t read_grain_offset = 0;

  // view() checked: the range must lie in the source (Error(invalid_argument)) and the view must
  // have its length (Error(corrupt_data) otherwise).
  std::span<const std::byte> checked_view(std::uint64_t offset, std::uint64_t bytes) const;
  // advise() if the source takes advice.
  void advise_if(std::uint64_t offset, std::uint64_t bytes, SourceAdvice advice) const;

  // Memory the caller keeps alive. Advice goes to the kernel (pages widened outward) when every
  // page of `bytes` is a file mapping that can be re-read — shared, or read-only — and is skipped
  // otherwise (heap, anonymous or copy-on-write memory, whose pages would be lost), said once at
  // info level. cold/pageout fall back to dontneed on kernels without them.
  static ByteSource from_memory(std::span<const std::byte> bytes);
};

}  // namespace strata
