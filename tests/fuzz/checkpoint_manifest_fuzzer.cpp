// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the checkpoint's untrusted metadata (restore and every `strata ckpt`
// command read it): a manifest (input opening with '{': its JSON line and, from format 4, the
// binary rank table after it), a rank table alone (opening with its magic `STRATRK1`, decoded
// against a manifest of the ranks and regions its header claims, so a mutation is not stopped at
// the manifest's SHA-256 seal), or a whole shard file, whose chunk index is found from the file's
// end as a reader finds it. Any input must decode or fail with
// strata::Error, never crash, hang or trip a sanitizer. Seeded by scripts/fuzz with manifests and
// shards strata_heat wrote and the format 2 and 3 fixtures of tests/data.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_manifest.hpp"
#include "checkpoint/rank_table.hpp"
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

// A rank table against a manifest whose ranks (1 to 4,096) and regions (0 to 8: f64 [64, 3] in
// 48-byte chunks, every other one rank-local) are what its header claims, with two node names
// when its first record names a node; decoded, and encoded back when it was accepted.
void fuzz_rank_table(const std::uint8_t* data, std::size_t size) {
  namespace d = strata::io::detail;
  const std::span<const std::byte> table(reinterpret_cast<const std::byte*>(data), size);
  std::uint32_t ranks = 1;
  std::uint32_t regions = 0;
  std::uint32_t first_node = d::kNoNode;
  if (size >= d::kRankTableHeaderBytes) {
    std::memcpy(&ranks, data + 12, sizeof ranks);
    std::memcpy(&regions, data + 16, sizeof regions);
  }
  if (size >= d::kRankTableHeaderBytes + 44) std::memcpy(&first_node, data + 72, sizeof first_node);
  d::Manifest m;
  m.version = 4;
  m.ranks = static_cast<int>(ranks < 1 ? 1 : ranks > 4096 ? 4096 : ranks);
  for (std::uint32_t i = 0; i < (regions > 8 ? 8 : regions); ++i) {
    d::RegionRecord r;
    r.name = "r" + std::to_string(i);
    r.dtype = strata::DType::f64;
    r.global_shape = strata::Shape{64, 3};
    r.rank_local = i % 2 == 1;
    r.chunk_bytes = 48;
    m.regions.push_back(std::move(r));
  }
  const std::vector<std::string> names =
      first_node == d::kNoNode ? std::vector<std::string>{} : std::vector<std::string>{"a", "b"};
  d::decode_rank_table(table, names, m, "f");
  std::vector<std::string> encoded_names;
  (void)d::encode_rank_table(m, encoded_names);
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
    } else if (size >= sizeof strata::io::detail::kRankTableMagic &&
               std::memcmp(data, strata::io::detail::kRankTableMagic,
                           sizeof strata::io::detail::kRankTableMagic) == 0) {
      fuzz_rank_table(data, size);
    } else {
      fuzz_shard(data, size);
    }
  } catch (const strata::Error&) {
  }
  return 0;
}
