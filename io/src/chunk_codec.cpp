// zstd per-chunk frames with one compression/decompression context per thread (contexts are
// expensive to create and not thread-safe), and the XXH3 check of every decoded chunk.
#include "chunk_codec.hpp"

#include <zstd.h>

#include <cstring>
#include <memory>

#include "strata/runtime/error.hpp"
#include "strata_format.hpp"

namespace strata::io::detail {
namespace {

struct cctx_deleter {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct dctx_deleter {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

ZSTD_CCtx* thread_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, cctx_deleter> ctx(ZSTD_createCCtx());
  if (!ctx) throw Error(ErrorCategory::resource, "zstd cannot allocate a compression context");
  return ctx.get();
}

ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, dctx_deleter> ctx(ZSTD_createDCtx());
  if (!ctx) throw Error(ErrorCategory::resource, "zstd cannot allocate a decompression context");
  return ctx.get();
}

}  // namespace

void encode_chunk(std::span<const std::byte> raw, Codec codec, FrameBuffer& out) {
  const std::size_t bound = ZSTD_compressBound(raw.size());
  if (out.capacity < bound) {
    out.data = std::make_unique_for_overwrite<std::byte[]>(bound);
    out.capacity = bound;
  }
  const std::size_t n =
      ZSTD_compressCCtx(thread_cctx(), out.data.get(), out.capacity, raw.data(), raw.size(), codec.level);
  if (ZSTD_isError(n)) {
    throw Error(ErrorCategory::system, std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  out.size = n;
}

void decode_chunk(std::span<const std::byte> stored, Codec::Kind codec, std::span<std::byte> raw,
                  std::uint64_t raw_hash, const std::string& where) {
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
    const std::size_t n =
        ZSTD_decompressDCtx(thread_dctx(), raw.data(), raw.size(), stored.data(), stored.size());
    if (ZSTD_isError(n) || n != raw.size()) {
      throw Error(ErrorCategory::corrupt_data,
                  std::string("zstd frame damaged: ") + (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short"),
                  {{"chunk", where}});
    }
  }
  if (checksum(raw) != raw_hash) {
    throw Error(ErrorCategory::corrupt_data, "chunk XXH3 checksum mismatch", {{"chunk", where}});
  }
}

}  // namespace strata::io::detail
