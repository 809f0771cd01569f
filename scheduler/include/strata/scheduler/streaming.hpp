// SPDX-License-Identifier: Apache-2.0
// Streaming reduction for data larger than memory: the source is processed in steps of half a
// window; while a step runs on every node, the next one is read ahead (MADV_WILLNEED), and when it
// is done its pages are released (MADV_DONTNEED by default), so the process's resident share of
// the source stays near one window however large the source is.
//
//   auto f = strata::MappedFile::open("huge.bin");
//   auto s = strata::reduce_streaming(ex, f.bytes(0, f.size()) /* as T */, Stats{}, {.window_bytes
//   = 256 << 20}); auto t = strata::reduce_streaming<double>(ex, strata::io::byte_source(part),
//   Stats{});
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "strata/runtime/base/error.hpp"
#include "strata/scheduler/byte_source.hpp"
#include "strata/scheduler/parallel.hpp"

namespace strata {

enum class StreamRelease {
  dontneed,  // out of this process's resident set; the page cache keeps the data for other readers
  pageout,   // out of the resident set and the page cache: a scan that must not evict others' data
  cold,      // only marked first to reclaim: the resident set is not bounded by the window
  keep,      // no release: a plain scan (the resident set grows to the whole source)
};

struct StreamOptions {
  // Bytes of the source resident at once: the step being processed and the step read ahead, each
  // half of it, rounded down to whole chunks (at least one chunk each).
  std::size_t window_bytes = std::size_t{64} << 20;
  StreamRelease release = StreamRelease::dontneed;
};

namespace detail {

// Elements per step for `options` (a whole number of the executor's chunks, at least one).
std::size_t stream_step_elements(const Executor& ex, const StreamOptions& options,
                                 std::size_t element_bytes) noexcept;
SourceAdvice release_advice(StreamRelease release) noexcept;
// The view as elements; Error(invalid_argument) when misaligned for them.
const void* check_element_view(std::span<const std::byte> view, std::size_t alignment);

}  // namespace detail

// Reduces the source's bytes as elements of T in steps (see the file comment). Results are
// deterministic for the same window and chunk size; they differ from reduce() over the same data
// only by floating-point rounding. Error(invalid_argument) when the size is not a whole number of
// elements; errors of the source's view (a corrupt chunk) are rethrown.
template <class T, Accumulator<T> A>
A reduce_streaming(Executor& ex, const ByteSource& source, A init, StreamOptions options = {}) {
  if (source.size_bytes % sizeof(T) != 0) {
    throw Error(ErrorCategory::invalid_argument, "source size is not a whole number of elements",
                {{"source_bytes", std::to_string(source.size_bytes)},
                 {"element_bytes", std::to_string(sizeof(T))}});
  }
  const std::size_t elements = source.size_bytes / sizeof(T);
  const std::size_t step = detail::stream_step_elements(ex, options, sizeof(T));
  A total(init);
  source.advise_if(0, std::min(step, elements) * sizeof(T), SourceAdvice::willneed);
  for (std::size_t first = 0; first < elements; first += step) {
    const std::size_t n = std::min(step, elements - first);
    const std::uint64_t offset = std::uint64_t{first} * sizeof(T);
    if (first + n < elements) {
      source.advise_if(offset + n * sizeof(T), std::min(step, elements - first - n) * sizeof(T),
                       SourceAdvice::willneed);
    }
    const ChunkPlan plan = ChunkPlan::even(ex.topology(), n, ex.chunk_elements(sizeof(T)));
    total.merge(detail::reduce_chunks<T>(ex, plan, init, [&](std::size_t f, std::size_t count) {
      auto view = source.checked_view(offset + f * sizeof(T), count * sizeof(T));
      return std::span<const T>(static_cast<const T*>(detail::check_element_view(view, alignof(T))),
                                count);
    }));
    if (options.release != StreamRelease::keep) {
      source.advise_if(offset, n * sizeof(T), detail::release_advice(options.release));
    }
  }
  return total;
}

// A span of mapped memory (e.g. a MappedFile's bytes seen as T); see ByteSource::from_memory for
// when advice applies.
template <std::ranges::contiguous_range R, class A>
requires Accumulator<A, std::remove_cv_t<detail::range_element<R>>> A
reduce_streaming(Executor& ex, R&& mapped, A init, StreamOptions options = {}) {
  using T = std::remove_cv_t<detail::range_element<R>>;
  std::span<const T> values = detail::as_span(mapped);
  return reduce_streaming<T>(ex, ByteSource::from_memory(std::as_bytes(values)), std::move(init),
                             options);
}

}  // namespace strata
