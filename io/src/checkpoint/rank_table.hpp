// SPDX-License-Identifier: Apache-2.0
// The ranks' own records of a checkpoint manifest (format 4): one fixed-width little-endian record
// per rank — its shard's size and SHA-256, its node, and its block of every region — after a
// 32-byte header, so rank 0 encodes and every rank decodes P ranks' records at memory speed
// instead of parsing P JSON objects. The table follows the manifest's JSON line in manifest.json,
// sealed by a SHA-256 in that JSON (docs/formats.md). During the commit each rank sends its own
// record (the same bytes) to rank 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_manifest.hpp"

namespace strata::io::detail {

inline constexpr char kRankTableMagic[8] = {'S', 'T', 'R', 'A', 'T', 'R', 'K', '1'};
inline constexpr std::size_t kRankTableHeaderBytes = 32;
// shard bytes u64 | shard SHA-256 [32] | node u32 | reserved u32, then per region first_row u64 |
// rows u64. The chunk count of a block is not stored: it is the cut of its bytes into chunk_bytes
// pieces.
inline constexpr std::size_t kRankRecordFixedBytes = 48;
inline constexpr std::size_t kRankRecordRegionBytes = 16;
inline constexpr std::uint32_t kNoNode = 0xffffffffu;  // the manifest names no nodes

std::size_t rank_record_bytes(std::size_t regions);

// The chunk count a block of `rows` rows of `region` is cut into.
std::uint64_t block_chunk_count(const RegionRecord& region, std::uint64_t rows);

// Rank `rank`'s record from its part of a manifest (its shard and its one block of each region;
// what a rank sends to rank 0 at commit), with node index kNoNode. Throws
// Error(invalid_argument) when the rank has not exactly one block in a region, or its shard's
// SHA-256 is not 64 hex digits.
std::vector<std::byte> encode_rank_record(const Manifest& part, int rank);

// Writes the table's header (magic, version, ranks, regions, record width; kRankTableHeaderBytes).
void put_rank_table_header(std::span<std::byte> out, std::uint32_t ranks, std::uint32_t regions);

// The table of a whole step's manifest: `node_names` receives the distinct node names in order
// of first use (empty when m.nodes is), each record refers to one by index.
std::vector<std::byte> encode_rank_table(const Manifest& m, std::vector<std::string>& node_names);

// Fills m.shards, one block per rank of every region of m.regions (in rank order; the regions'
// step-wide fields already decoded) and m.nodes from `table` and the distinct `node_names`.
// Every field is checked: header against m.ranks and m.regions, the size, each shard's size, each
// node index, each block inside its region's rows. Throws Error(corrupt_data) naming `file` and
// the field; never reads outside `table`.
void decode_rank_table(std::span<const std::byte> table, const std::vector<std::string>& node_names,
                       Manifest& m, const std::string& file);

}  // namespace strata::io::detail
