// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the checkpoint's untrusted metadata (restore and every `strata ckpt`
// command read it): a manifest (input opening with '{': its JSON line and, from format 4, the
// binary rank table after it) or a whole shard file, whose chunk index is found from the file's
// end as a reader finds it. Any input must decode or fail with
// strata::Error, never crash, hang or trip a sanitizer. Seeded by scripts/fuzz with manifests and
// shards strata_heat wrote and the format 2 and 3 fixtures of tests/data.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "checkpoint/checkpoint_manifest.hpp"
#include "checkpoint/shard_index.hpp"
#include "strata/runtime/base/error.hpp"

namespace {

void fuzz_manifest(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const strata::io::detail::Manifest m = strata::io::detail::decode_manifest(text, "fuzz.json");
  (void)m.raw_bytes();
  (void)m.shard_bytes();
  (void)strata::io::detail::encode_manifest(m);
}

// The shard's step and rank from its header's bytes (unchecked: the index decoder must cope with
// any), its index from the trailer at the end, decoded and encoded back.
void fuzz_shard(const std::uint8_t* data, std::size_t size) {
  namespace d = strata::io::detail;
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  std::uint64_t step = 0;
  std::uint32_t rank = 0;
  if (size >= d::kShardHeaderBytes) {
    std::memcpy(&rank, data + 12, sizeof rank);
    std::memcpy(&step, data + 16, sizeof step);
  }
  step &= 0x7fffffffffffffffULL;
  rank &= 0x7fffffffU;
  if (size < d::kIndexTrailerBytes) {
    (void)d::decode_shard_index(file, size, static_cast<long>(step), static_cast<int>(rank), "f");
    return;
  }
  const d::IndexExtent extent = d::decode_index_trailer(file.last(d::kIndexTrailerBytes), size, "f");
  const d::ShardIndex index = d::decode_shard_index(
      file.last(static_cast<std::size_t>(extent.bytes)), size, static_cast<long>(step),
      static_cast<int>(rank), "f");
  (void)d::encode_shard_index(index);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    if (size > 0 && data[0] == '{') {
      fuzz_manifest(data, size);
    } else {
      fuzz_shard(data, size);
    }
  } catch (const strata::Error&) {
  }
  return 0;
}
