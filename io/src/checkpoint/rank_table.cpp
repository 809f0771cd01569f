// SPDX-License-Identifier: Apache-2.0
// The rank table's codec: explicit little-endian fields at fixed offsets (byte_fields.hpp), the
// header checked against the manifest's JSON and the size before any record is read.
#include "checkpoint/rank_table.hpp"

#include <cstring>
#include <unordered_map>

#include "checksum/sha256.hpp"
#include "format/byte_fields.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {
namespace {

constexpr std::uint32_t kRankTableVersion = 4;

[[noreturn]] void refuse(const std::string& file, const std::string& field,
                         const std::string& what) {
  throw Error(ErrorCategory::corrupt_data, "checkpoint manifest rank table: " + what,
              {{"file", file}, {"field", field}});
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// One record: `blocks[i]` is the rank's block of region i.
void write_record(std::span<std::byte> out, int rank, const ShardRecord& shard, std::uint32_t node,
                  std::span<const BlockRecord* const> blocks) {
  if (shard.sha256.size() != 64) {
    throw Error(ErrorCategory::invalid_argument, "a shard's SHA-256 is not 64 hex digits",
                {{"rank", std::to_string(rank)}});
  }
  put_le(out, 0, shard.bytes);
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = hex_value(shard.sha256[2 * i]);
    const int lo = hex_value(shard.sha256[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      throw Error(ErrorCategory::invalid_argument, "a shard's SHA-256 is not lowercase hex",
                  {{"rank", std::to_string(rank)}});
    }
    out[8 + i] = static_cast<std::byte>(hi * 16 + lo);
  }
  put_le(out, 40, node);
  put_le(out, 44, std::uint32_t{0});
  std::size_t at = kRankRecordFixedBytes;
  for (const BlockRecord* b : blocks) {
    put_le(out, at, b->first_row);
    put_le(out, at + 8, b->rows);
    at += kRankRecordRegionBytes;
  }
}

[[noreturn]] void not_one_block(const RegionRecord& region, int rank) {
  throw Error(ErrorCategory::invalid_argument,
              "a format 4 manifest holds exactly one block per rank and region",
              {{"region", region.name}, {"rank", std::to_string(rank)}});
}

}  // namespace

std::size_t rank_record_bytes(std::size_t regions) {
  return kRankRecordFixedBytes + regions * kRankRecordRegionBytes;
}

std::uint64_t block_chunk_count(const RegionRecord& region, std::uint64_t rows) {
  const std::uint64_t bytes = rows * region.row_bytes();
  return bytes / region.chunk_bytes + (bytes % region.chunk_bytes != 0 ? 1 : 0);
}

std::vector<std::byte> encode_rank_record(const Manifest& part, int rank) {
  std::vector<const BlockRecord*> blocks;
  for (const RegionRecord& region : part.regions) {
    const BlockRecord* mine = nullptr;
    for (const BlockRecord& b : region.blocks) {
      if (b.rank != rank) continue;
      if (mine != nullptr) not_one_block(region, rank);
      mine = &b;
    }
    if (mine == nullptr) not_one_block(region, rank);
    blocks.push_back(mine);
  }
  std::vector<std::byte> out(rank_record_bytes(part.regions.size()));
  write_record(out, rank, part.shards.at(static_cast<std::size_t>(rank)), kNoNode, blocks);
  return out;
}

void put_rank_table_header(std::span<std::byte> out, std::uint32_t ranks, std::uint32_t regions) {
  std::memcpy(out.data(), kRankTableMagic, sizeof kRankTableMagic);
  put_le(out, 8, kRankTableVersion);
  put_le(out, 12, ranks);
  put_le(out, 16, regions);
  put_le(out, 20, static_cast<std::uint32_t>(rank_record_bytes(regions)));
  put_le(out, 24, std::uint64_t{0});
}

std::vector<std::byte> encode_rank_table(const Manifest& m, std::vector<std::string>& node_names) {
  const auto ranks = static_cast<std::size_t>(m.ranks);
  const std::size_t regions = m.regions.size();
  if (m.shards.size() != ranks || (!m.nodes.empty() && m.nodes.size() != ranks)) {
    throw Error(ErrorCategory::invalid_argument,
                "a manifest needs one shard (and, with nodes, one node) per rank",
                {{"ranks", std::to_string(m.ranks)}});
  }
  // Every rank's block of every region, rank-major, found in one pass over the blocks.
  std::vector<const BlockRecord*> blocks(ranks * regions, nullptr);
  for (std::size_t i = 0; i < regions; ++i) {
    for (const BlockRecord& b : m.regions[i].blocks) {
      if (b.rank < 0 || static_cast<std::size_t>(b.rank) >= ranks)
        not_one_block(m.regions[i], b.rank);
      const BlockRecord*& slot = blocks[static_cast<std::size_t>(b.rank) * regions + i];
      if (slot != nullptr) not_one_block(m.regions[i], b.rank);
      slot = &b;
    }
  }
  node_names.clear();
  std::unordered_map<std::string, std::uint32_t> node_index;
  const std::size_t width = rank_record_bytes(regions);
  std::vector<std::byte> out(kRankTableHeaderBytes + ranks * width);
  put_rank_table_header(out, static_cast<std::uint32_t>(ranks),
                        static_cast<std::uint32_t>(regions));
  const std::span<std::byte> records = std::span(out).subspan(kRankTableHeaderBytes);
  for (std::size_t r = 0; r < ranks; ++r) {
    const std::span<const BlockRecord* const> mine(blocks.data() + r * regions, regions);
    for (std::size_t i = 0; i < regions; ++i) {
      if (mine[i] == nullptr) not_one_block(m.regions[i], static_cast<int>(r));
    }
    std::uint32_t node = kNoNode;
    if (!m.nodes.empty()) {
      auto [it, added] =
          node_index.try_emplace(m.nodes[r], static_cast<std::uint32_t>(node_names.size()));
      if (added) node_names.push_back(m.nodes[r]);
      node = it->second;
    }
    write_record(records.subspan(r * width, width), static_cast<int>(r), m.shards[r], node, mine);
  }
  return out;
}

void decode_rank_table(std::span<const std::byte> table, const std::vector<std::string>& node_names,
                       Manifest& m, const std::string& file) {
  if (table.size() < kRankTableHeaderBytes) refuse(file, "rank_table", "truncated header");
  if (std::memcmp(table.data(), kRankTableMagic, sizeof kRankTableMagic) != 0) {
    refuse(file, "rank_table.magic", "bad magic");
  }
  if (get_le<std::uint32_t>(table, 8) != kRankTableVersion) {
    refuse(file, "rank_table.version", "unsupported version");
  }
  const auto ranks = get_le<std::uint32_t>(table, 12);
  const auto regions = get_le<std::uint32_t>(table, 16);
  const auto width = get_le<std::uint32_t>(table, 20);
  if (ranks != static_cast<std::uint32_t>(m.ranks)) {
    refuse(file, "rank_table.ranks",
           std::to_string(ranks) + " records for " + std::to_string(m.ranks) + " ranks");
  }
  if (regions != m.regions.size()) {
    refuse(file, "rank_table.regions",
           std::to_string(regions) + " regions for " + std::to_string(m.regions.size()));
  }
  if (width != rank_record_bytes(regions)) {
    refuse(file, "rank_table.record_bytes",
           "record width " + std::to_string(width) + " is not that of " + std::to_string(regions) +
               " regions");
  }
  if (get_le<std::uint64_t>(table, 24) != 0) {
    refuse(file, "rank_table.reserved", "non-zero reserved bytes");
  }
  // ranks <= 2^20 and width < 2^32: the product cannot overflow 64 bits.
  if (table.size() - kRankTableHeaderBytes != std::uint64_t{ranks} * width) {
    refuse(file, "rank_table.bytes",
           "holds " + std::to_string(table.size()) + " bytes, not a header and " +
               std::to_string(ranks) + " records of " + std::to_string(width));
  }
  const std::span<const std::byte> records = table.subspan(kRankTableHeaderBytes);
  m.shards.resize(ranks);
  m.nodes.clear();
  if (!node_names.empty()) m.nodes.resize(ranks);
  for (RegionRecord& region : m.regions) {
    region.blocks.clear();
    region.blocks.resize(ranks);
  }
  char hex[64];
  constexpr char kDigits[] = "0123456789abcdef";
  for (std::uint32_t r = 0; r < ranks; ++r) {
    const std::span<const std::byte> rec = records.subspan(std::size_t{r} * width, width);
    const auto field = [r](const char* name) {  // named on failure only
      return "ranks[" + std::to_string(r) + "]." + name;
    };
    ShardRecord& shard = m.shards[r];
    shard.rank = static_cast<int>(r);
    shard.bytes = get_le<std::uint64_t>(rec, 0);
    if (shard.bytes < kShardHeaderBytes)
      refuse(file, field("shard_bytes"), "shard smaller than its header");
    for (std::size_t i = 0; i < 32; ++i) {
      const auto byte = static_cast<unsigned>(rec[8 + i]);
      hex[2 * i] = kDigits[byte >> 4];
      hex[2 * i + 1] = kDigits[byte & 15];
    }
    shard.sha256.assign(hex, sizeof hex);
    const auto node = get_le<std::uint32_t>(rec, 40);
    if (node_names.empty() ? node != kNoNode : node >= node_names.size()) {
      refuse(file, field("node"), "node index " + std::to_string(node) + " names no node");
    }
    if (!node_names.empty()) m.nodes[r] = node_names[node];
    if (get_le<std::uint32_t>(rec, 44) != 0)
      refuse(file, field("reserved"), "non-zero reserved bytes");
    std::size_t at = kRankRecordFixedBytes;
    for (std::size_t i = 0; i < regions; ++i, at += kRankRecordRegionBytes) {
      RegionRecord& region = m.regions[i];
      BlockRecord& b = region.blocks[r];
      b.rank = static_cast<int>(r);
      b.first_row = get_le<std::uint64_t>(rec, at);
      b.rows = get_le<std::uint64_t>(rec, at + 8);
      const std::uint64_t global_rows = region.global_shape[0];
      if (b.first_row > global_rows) {
        refuse(file, field("regions[") + std::to_string(i) + "].first_row",
               "past the region's " + std::to_string(global_rows) + " rows");
      }
      if (b.rows > global_rows - b.first_row) {
        refuse(file, field("regions[") + std::to_string(i) + "].rows",
               "overflow the region's " + std::to_string(global_rows) + " rows");
      }
      b.chunk_count = block_chunk_count(region, b.rows);
    }
  }
}

}  // namespace strata::io::detail
