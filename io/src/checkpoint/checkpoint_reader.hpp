// SPDX-License-Identifier: Apache-2.0
// Reading a committed checkpoint step back: any range of a region's global rows, assembled from
// the blocks of whichever ranks wrote them (so a restart may use another number of ranks), with
// every chunk used decoded and checked against its XXH3, and optionally every shard of the step
// checked whole against the manifest's SHA-256. The chunk entries of a format 3 step are read
// from the chunk index of a shard only when rows of that shard's blocks are read (a format 2
// step has them all in its manifest). Shared by restore, `strata ckpt` and the tools.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint_manifest.hpp"

namespace strata::io::detail {

class StepReader {
 public:
  // Reads and validates the manifest of `step` (Error(io) when missing, Error(corrupt_data) when
  // damaged).
  StepReader(std::string dir, long step);
  // The same with the step's manifest already read and validated (restore reads it on one rank).
  StepReader(std::string dir, Manifest manifest);
  ~StepReader();
  StepReader(const StepReader&) = delete;
  StepReader& operator=(const StepReader&) = delete;

  // The manifest; blocks of a format 3 step have their `chunks` once their shard's index was read
  // (by a read of their rows or verify_shard).
  const Manifest& manifest() const noexcept { return manifest_; }
  // The record of `region`, a global array (what export and read_checkpoint_region read).
  // Error(invalid_argument) naming it when the step has no such region or it is rank-local.
  const RegionRecord& global_region(const std::string& region) const;

  // Reads shard `rank` of this step whole (frames and chunk index) and compares size and SHA-256
  // with the manifest.
  // Throws Error(corrupt_data) / Error(io) naming the shard.
  void verify_shard(int rank);

  // Copies rows [first_row, first_row + rows) of the region's global array into `out`
  // (rows * row_bytes bytes), decoding in parallel. Rank-local regions: the block of `rank`.
  // Throws Error(corrupt_data) naming step, shard and chunk when a frame is damaged, truncated or
  // fails its checksum; Error(io) when a shard is missing.
  void read_rows(const RegionRecord& region, std::uint64_t first_row, std::uint64_t rows,
                 std::span<std::byte> out);
  void read_rank_block(const RegionRecord& region, int rank, std::span<std::byte> out);

 private:
  struct Shard {
    int fd = -1;
    std::string path;
    std::uint64_t bytes = 0;
  };
  const Shard& shard(long step, int rank);
  // What the header of shard (step, rank) must hold, from this step's manifest.
  ShardExpectation expectation(long step, int rank) const;
  void read_chunks(const RegionRecord& region, const BlockRecord& block, std::uint64_t first_byte,
                   std::uint64_t last_byte, std::byte* out);
  // Format 3: reads the chunk index of this step's shard `rank` (once), checks it against the
  // manifest's blocks of that rank and fills their `chunks`. Throws Error(corrupt_data) naming
  // the shard when the index is damaged, truncated or disagrees with the manifest.
  void load_index(int rank);
  // The chunk entries of `block` (one of manifest_'s), reading its shard's index if needed.
  const std::vector<ChunkRef>& chunks_of(const BlockRecord& block);

  // Where a read index begins (the end of the shard's frames) and its SHA-256.
  struct LoadedIndex {
    std::uint64_t offset = 0;
    std::array<std::byte, 32> digest{};
  };

  std::string dir_;
  Manifest manifest_;
  std::map<std::pair<long, int>, Shard> shards_;
  std::map<int, LoadedIndex> indexes_;
};

}  // namespace strata::io::detail
