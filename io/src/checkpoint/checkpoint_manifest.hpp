// SPDX-License-Identifier: Apache-2.0
// The checkpoint manifest: what a committed step holds (regions, each rank's block of them, and
// — in format 2 only — where every chunk's frame lives; format 3 keeps those entries in each
// shard's chunk index, shard_index.hpp), the SHA-256 of every shard, and its own SHA-256. Written
// last by rank 0; its presence in `step-N/` is what makes a checkpoint complete. Every field read
// back is bounds-checked (docs/formats.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "checkpoint/shard_header.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"
#include "strata/runtime/base/dtype.hpp"

namespace strata::io::detail {

// 4: the ranks' records (shard, node, blocks) in a binary rank table after the manifest's JSON
//    line (rank_table.hpp); the JSON holds only the step-wide fields.
// 3: chunk entries in each shard's chunk index, the manifest one JSON record per rank and block.
// 2: chunk entries in the manifest. 2 and 3 are still read, and a step drained or rebuilt keeps
// its version. Version 1 checkpoints (shard headers without sizes, manifests without the run) are
// refused.
inline constexpr int kCheckpointFormatVersion = 4;
inline constexpr int kOldestCheckpointFormatVersion = 2;
inline constexpr std::size_t kMaxCheckpointChunkBytes = std::size_t{1} << 30;
inline constexpr int kMaxCheckpointRanks = 1 << 20;
// A manifest is refused above this size (before it is read) or this nesting depth (while it is
// parsed), and the commit refuses to write a larger one. A format 4 manifest holds 48 bytes per
// rank and 16 per rank and region (format 3: about 200 bytes of JSON per rank and region), so
// 256 MiB is over a million ranks' records whatever the state's size; a format 2 manifest held
// every chunk's entry (about 75 bytes each: 14 TB in 4 MiB chunks).
inline constexpr std::uint64_t kMaxManifestBytes = std::uint64_t{256} << 20;
inline constexpr int kMaxManifestDepth = 16;

// One chunk of a block: its raw size and XXH3, and where its stored frame is.
struct ChunkRef {
  std::uint64_t raw_bytes = 0;
  std::uint64_t raw_hash = 0;
  long step = 0;  // the step whose shard holds the frame (this one, or older when reused)
  int rank = 0;   // the rank whose shard holds it
  Codec::Kind codec = Codec::Kind::none;
  bool shuffled = false;  // bytes regrouped by significance before zstd (see Codec::shuffle)
  std::uint64_t offset = 0;
  std::uint64_t stored_bytes = 0;
};

// Rows [first_row, first_row + rows) of a region as held by `rank`, cut into `chunk_count` chunks
// in order. `chunks` holds their entries when known: always for a format 2 manifest and for a
// rank's own save; for a format 3 manifest once StepReader has read the shard's chunk index.
struct BlockRecord {
  int rank = 0;
  std::uint64_t first_row = 0;
  std::uint64_t rows = 0;
  std::uint64_t chunk_count = 0;
  std::vector<ChunkRef> chunks;
};

struct RegionRecord {
  std::string name;
  DType dtype = DType::u8;
  Shape global_shape;
  bool rank_local = false;  // one block per rank, restored only onto the same rank
  std::uint64_t chunk_bytes = 0;
  std::vector<BlockRecord> blocks;

  std::uint64_t row_bytes() const { return global_shape.row_elements() * dtype_bytes(dtype); }
};

struct ShardRecord {
  int rank = 0;
  std::uint64_t bytes = 0;
  std::string sha256;  // lowercase hex
};

struct Manifest {
  // 2: chunk entries here; 3: in the shards' indexes; 4: also the ranks' records binary
  int version = kCheckpointFormatVersion;
  long step = 0;
  int ranks = 0;
  std::string created;  // ISO 8601 UTC
  std::string run;      // CheckpointOptions::run_id of the job that wrote it
  Codec codec;
  std::vector<RegionRecord> regions;
  std::vector<ShardRecord> shards;
  std::vector<long> depends_on;  // older steps holding reused chunks, ascending
  // With a local level: the node each rank ran on (node-local folder node-<name>), in rank
  // order; empty otherwise (the field is then not written).
  std::vector<std::string> nodes;

  const RegionRecord* find(const std::string& name) const;
  std::uint64_t raw_bytes() const;
  std::uint64_t shard_bytes() const;
};

// Folder and file names, built from numbers only (never from a name read from a file).
std::string step_folder(const std::string& dir, long step);      // dir/step-00000042
std::string temp_step_folder(const std::string& dir, long step); // dir/step-00000042.tmp
std::string shard_name(int rank);                                // shard-00003.sck
std::string shard_path(const std::string& dir, long step, int rank);
std::string manifest_path(const std::string& dir, long step);
inline constexpr const char* kManifestName = "manifest.json";

// Steps with a folder named exactly as step_folder() names it (complete or not: completeness is
// the manifest), ascending; step-40 or step-0000000040 next to step-00000040 are not steps.
// Throws Error(io) when `dir` cannot be read; a missing `dir` is no steps.
std::vector<long> step_folders(const std::string& dir);
// Unfinished `step-N.tmp` folders, ascending.
std::vector<long> temp_step_folders(const std::string& dir);

// The digest a manifest records for a shard: SHA-256 over the shard's 64-byte header followed by
// the SHA-256 of each of its frames in file order and, for a format 3 shard, the SHA-256 of its
// chunk index. Every byte of the shard is covered, and the frames hash in parallel (a digest of
// the whole file in one stream is serial).
std::string shard_digest(std::span<const std::byte> header,
                         std::span<const std::array<std::byte, 32>> frame_digests,
                         const std::array<std::byte, 32>* index_digest = nullptr);

// The manifest's bytes in its `version`: its JSON, with its SHA-256 over the body, written
// compactly (one line), and for version 4 the rank table after that line (one record per rank;
// the JSON holds the table's size and SHA-256). Version 3 writes a JSON chunk count per block,
// version 2 every chunk entry (for a format 2 or 3 step drained or rebuilt after an upgrade).
// Version 4 needs exactly one block per rank in every region. Throws
// Error(resource) naming the size and the chunk entries when the text exceeds `max_bytes`: a
// manifest that restore would refuse must not be committed.
std::string encode_manifest(const Manifest& manifest, std::uint64_t max_bytes = kMaxManifestBytes);
// Parses and validates a whole step's manifest, whose blocks must hold every global row exactly
// once; throws Error(corrupt_data) naming the file and the field.
Manifest decode_manifest(const std::string& text, const std::string& file);

// The commit's message from rank `rank` (its part of the manifest, as save_pipeline builds it)
// for a format 4 step: its rank record, then its depends_on, then the regions' step-wide fields
// (the same bytes on every rank that protects the same regions). No JSON is parsed per rank.
std::string encode_rank_part(const Manifest& part, int rank);
// The format 4 manifest of `step` from every rank's message (parts[r] from rank r): rank 0's
// regions, every rank's record, the union of depends_on, stamped with the current time. Throws
// Error(invalid_argument) naming the rank when a message is malformed or its regions differ from
// rank 0's (names, order, dtypes, shapes, chunk sizes), or when the blocks do not tile a region.
Manifest merge_rank_parts(long step, int ranks, const Codec& codec,
                          const std::vector<std::string>& parts);

// Reads dir/step-N/manifest.json and decodes it; Error(io) when absent or unreadable,
// Error(corrupt_data) when it is not a regular file (a FIFO, a device), exceeds kMaxManifestBytes,
// or fails decode_manifest. Never blocks on a FIFO and never reads more than the bound.
Manifest read_manifest(const std::string& dir, long step);
// The two halves of read_manifest, for restore, where rank 0 reads the file once and every rank
// decodes the text it broadcasts: the text, with the same checks before a byte is read; and the
// decoded manifest, refused when it names another step.
std::string read_manifest_text(const std::string& dir, long step);
Manifest decode_step_manifest(const std::string& text, const std::string& dir, long step);

// Whether step-N holds a manifest: absent (never committed), present, or unreadable when even
// its existence cannot be told (a folder without permission; `why` says so). An unreadable step
// is reported and skipped, never fatal to the folder's other steps.
enum class ManifestPresence { absent, present, unreadable };
ManifestPresence manifest_presence(const std::string& dir, long step, std::string* why = nullptr);

// Current UTC time as "2026-11-30T23:59:59Z".
std::string utc_timestamp();

}  // namespace strata::io::detail
