// SPDX-License-Identifier: Apache-2.0
// The non-template parts of streaming: step size, release advice, element alignment checks.
#include "strata/scheduler/streaming.hpp"

#include <cstdint>

namespace strata::detail {

std::size_t stream_step_elements(const Executor& ex, const StreamOptions& options,
                                 std::size_t element_bytes) noexcept {
  const std::size_t chunk = ex.chunk_elements(element_bytes);
  const std::size_t half = options.window_bytes / 2 / element_bytes;
  return std::max<std::size_t>(1, half / chunk) * chunk;
}

SourceAdvice release_advice(StreamRelease release) noexcept {
  switch (release) {
    case StreamRelease::pageout:
      return SourceAdvice::pageout;
    case StreamRelease::cold:
      return SourceAdvice::cold;
    case StreamRelease::dontneed:
    case StreamRelease::keep:
      break;
  }
  return SourceAdvice::dontneed;
}

const void* check_element_view(std::span<const std::byte> view, std::size_t alignment) {
  if (reinterpret_cast<std::uintptr_t>(view.data()) % alignment != 0) {
    throw Error(ErrorCategory::invalid_argument,
                "source bytes are not aligned for the element type",
                {{"alignment", std::to_string(alignment)}});
  }
  return view.data();
}

}  // namespace strata::detail
