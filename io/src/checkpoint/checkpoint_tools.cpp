// SPDX-License-Identifier: Apache-2.0
// Tools over a checkpoint folder without a running job (strata ckpt list | verify | prune |
// export): listing with each step's size and dependencies, complete verification, retention that
// keeps what kept steps reference, and reading a region back as one global array.
#include <algorithm>
#include <filesystem>
#include <set>

#include "checkpoint/checkpoint_manifest.hpp"
#include "checkpoint/checkpoint_reader.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io {
namespace {

namespace fs = std::filesystem;

CheckpointInfo info_of(const std::string& dir, const detail::Manifest& m) {
  CheckpointInfo info;
  info.step = m.step;
  info.path = detail::step_folder(dir, m.step);
  info.ranks = m.ranks;
  info.incremental = !m.depends_on.empty();
  info.depends_on = m.depends_on;
  info.shard_bytes = m.shard_bytes();
  info.raw_bytes = m.raw_bytes();
  info.created = m.created;
  for (const detail::RegionRecord& r : m.regions) {
    info.regions.push_back({r.name, r.dtype, r.global_shape, r.rank_local});
  }
  return info;
}

}  // namespace

std::vector<CheckpointInfo> list_checkpoints(const std::string& dir,
                                             std::vector<SkippedCheckpoint>* problems) {
  std::vector<CheckpointInfo> out;
  for (long step : detail::step_folders(dir)) {
    std::string why;
    const detail::ManifestPresence presence = detail::manifest_presence(dir, step, &why);
    if (presence == detail::ManifestPresence::absent) continue;  // never committed
    if (presence == detail::ManifestPresence::unreadable) {
      if (problems != nullptr) problems->push_back({step, why});
      continue;
    }
    try {
      out.push_back(info_of(dir, detail::read_manifest(dir, step)));
    } catch (const Error& e) {
      if (problems != nullptr) problems->push_back({step, e.what()});
    }
  }
  return out;
}

std::vector<std::string> verify_checkpoint(const std::string& dir, long step, Progress* progress) {
  std::vector<std::string> problems;
  try {
    detail::StepReader reader(dir, step);
    const detail::Manifest& m = reader.manifest();
    if (progress != nullptr) progress->add_total(m.shard_bytes() + m.raw_bytes());
    for (int r = 0; r < m.ranks; ++r) {
      try {
        reader.verify_shard(r);
      } catch (const Error& e) {
        problems.push_back(e.what());
      }
      for (const detail::ShardRecord& shard : m.shards) {
        if (progress != nullptr && shard.rank == r) progress->add(shard.bytes);
      }
    }
    for (long dep : m.depends_on) {
      if (detail::manifest_presence(dir, dep) != detail::ManifestPresence::present) {
        problems.push_back("depends on step " + std::to_string(dep) + ", which is not complete");
      }
    }
    // Every chunk decoded and checked, including those that live in older steps.
    for (const detail::RegionRecord& region : m.regions) {
      for (const detail::BlockRecord& b : region.blocks) {
        try {
          std::vector<std::byte> block(b.rows * region.row_bytes());
          if (region.rank_local) {
            reader.read_rank_block(region, b.rank, block);
          } else {
            reader.read_rows(region, b.first_row, b.rows, block);
          }
        } catch (const Error& e) {
          problems.push_back("region '" + region.name + "' rank " + std::to_string(b.rank) + ": " +
                             e.what());
        }
        if (progress != nullptr) progress->add(b.rows * region.row_bytes());
      }
    }
  } catch (const Error& e) {
    problems.push_back(e.what());
  }
  return problems;
}

std::vector<long> prune_checkpoints(const std::string& dir, int keep) {
  if (keep < 1) {
    throw Error(ErrorCategory::invalid_argument, "keep must be at least 1",
                {{"keep", std::to_string(keep)}});
  }
  // A step that cannot be examined is neither counted nor removed: list reports it.
  std::vector<long> complete;
  for (long step : detail::step_folders(dir)) {
    if (detail::manifest_presence(dir, step) == detail::ManifestPresence::present)
      complete.push_back(step);
  }
  if (complete.size() <= static_cast<std::size_t>(keep)) return {};
  std::set<long> needed(complete.end() - keep, complete.end());
  // What the kept steps reference stays, whatever its age (depends_on is already flattened).
  for (long step : std::vector<long>(needed.begin(), needed.end())) {
    try {
      for (long dep : detail::read_manifest(dir, step).depends_on) needed.insert(dep);
    } catch (const Error&) {
      // A damaged kept manifest: keep everything older rather than guess what it needed.
      for (long s : complete) {
        if (s < step) needed.insert(s);
      }
    }
  }
  std::vector<long> removed;
  for (long step : complete) {
    if (needed.count(step) != 0) continue;
    std::error_code ec;
    fs::remove_all(detail::step_folder(dir, step), ec);
    if (ec) {
      throw Error(ErrorCategory::io, "cannot remove an old checkpoint: " + ec.message(),
                  {{"folder", detail::step_folder(dir, step)}});
    }
    removed.push_back(step);
  }
  return removed;
}

std::vector<std::byte> read_checkpoint_region(const std::string& dir, long step,
                                              const std::string& region) {
  detail::StepReader reader(dir, step);
  const detail::RegionRecord* r = &reader.global_region(region);
  std::vector<std::byte> out(r->global_shape.byte_count(r->dtype));
  reader.read_rows(*r, 0, r->global_shape[0], out);
  return out;
}

}  // namespace strata::io
