// SPDX-License-Identifier: Apache-2.0
// Reading a committed checkpoint step back: any range of a region's global rows, assembled from
// the blocks of whichever ranks wrote them (so a restart may use another number of ranks), with
// every chunk used decoded and checked against its XXH3, and optionally every shard of the step
// checked whole against the manifest's SHA-256. Shared by restore, `strata ckpt` and the tools.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>

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

  const Manifest& manifest() const noexcept { return manifest_; }
  // The record of `region`, a global array (what export and read_checkpoint_region read).
  // Error(invalid_argument) naming it when the step has no such region or it is rank-local.
  const RegionRecord& global_region(const std::string& region) const;

  // Reads shard `rank` of this step whole and compares size and SHA-256 with the manifest.
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

  std::string dir_;
  Manifest manifest_;
  std::map<std::pair<long, int>, Shard> shards_;
};

}  // namespace strata::io::detail
