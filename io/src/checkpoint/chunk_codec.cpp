// SPDX-License-Identifier: Apache-2.0
// zstd per-chunk frames with one compression/decompression context per thread (contexts are
// expensive to create and not thread-safe), and the XXH3 check of every decoded chunk.
#include "checkpoint/chunk_codec.hpp"

#include <zstd.h>

#include <cstring>
#include <memory>

#include "format/strata_format.hpp"
#include "strata/kernels/shuffle.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {
namespace {

struct CctxDeleter {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct DctxDeleter {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

ZSTD_CCtx* thread_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CctxDeleter> ctx(ZSTD_createCCtx());
  if (!ctx) throw Error(ErrorCategory::resource, "zstd cannot allocate a compression context");
  return ctx.get();
}

ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DctxDeleter> ctx(ZSTD_createDCtx());
  if (!ctx) throw Error(ErrorCategory::resource, "zstd cannot allocate a decompression context");
  return ctx.get();
}

// Per-thread scratch for shuffled bytes, grown on demand and never zero-filled.
std::span<std::byte> thread_scratch(std::size_t bytes) {
  thread_local std::unique_ptr<std::byte[]> data;
  thread_local std::size_t capacity = 0;
  if (capacity < bytes) {
    data = std::make_unique_for_overwrite<std::byte[]>(bytes);
    capacity = bytes;
  }
  return {data.get(), bytes};
}

bool shuffles(std::size_t element_bytes) {
  return element_bytes == 2 || element_bytes == 4 || element_bytes == 8;
}

}  // namespace

bool encode_chunk(std::span<const std::byte> raw, Codec codec, std::size_t element_bytes,
                  FrameBuffer& out) {
  const bool shuffled = codec.shuffle && shuffles(element_bytes);
  std::span<const std::byte> input = raw;
  if (shuffled) {
    std::span<std::byte> scratch = thread_scratch(raw.size());
    kernels::byte_shuffle(raw, element_bytes, scratch);
    input = scratch;
  }
  const std::size_t bound = ZSTD_compressBound(input.size());
  if (out.capacity < bound) {
    out.data = std::make_unique_for_overwrite<std::byte[]>(bound);
    out.capacity = bound;
  }
  const std::size_t n = ZSTD_compressCCtx(thread_cctx(), out.data.get(), out.capacity,
                                          input.data(), input.size(), codec.level);
  if (ZSTD_isError(n)) {
    throw Error(ErrorCategory::system, std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  out.size = n;
  return shuffled;
}

void decode_chunk(std::span<const std::byte> stored, Codec::Kind codec, bool shuffled,
                  std::size_t element_bytes, std::span<std::byte> raw, std::uint64_t raw_hash,
                  const std::string& where) {
  if (shuffled && (codec != Codec::Kind::zstd || !shuffles(element_bytes))) {
    throw Error(ErrorCategory::corrupt_data, "shuffled chunk of a codec or dtype without shuffle",
                {{"chunk", where}});
  }
  if (codec == Codec::Kind::none) {
    if (stored.size() != raw.size()) {
      throw Error(ErrorCategory::corrupt_data, "raw chunk has the wrong size", {{"chunk", where}});
    }
    if (raw.data() != stored.data()) std::memcpy(raw.data(), stored.data(), raw.size());
  } else {
    const unsigned long long claimed = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (claimed != raw.size()) {
      throw Error(ErrorCategory::corrupt_data, "zstd frame damaged or of the wrong size",
                  {{"chunk", where}});
    }
    std::span<std::byte> target = shuffled ? thread_scratch(raw.size()) : raw;
    const std::size_t n = ZSTD_decompressDCtx(thread_dctx(), target.data(), target.size(),
                                              stored.data(), stored.size());
    if (ZSTD_isError(n) || n != raw.size()) {
      throw Error(ErrorCategory::corrupt_data,
                  std::string("zstd frame damaged: ") + (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short"),
                  {{"chunk", where}});
    }
    if (shuffled) kernels::byte_unshuffle(target, element_bytes, raw);
  }
  if (checksum(raw) != raw_hash) {
    throw Error(ErrorCategory::corrupt_data, "chunk XXH3 checksum mismatch", {{"chunk", where}});
  }
}

}  // namespace strata::io::detail
