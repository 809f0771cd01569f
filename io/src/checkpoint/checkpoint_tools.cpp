// SPDX-License-Identifier: Apache-2.0
// Tools over a checkpoint folder without a running job (strata ckpt list | verify | prune |
// export | drain): listing with each step's size and dependencies and the levels holding it,
// complete verification, retention that keeps what kept steps reference, reading a region back as
// one global array, and finishing a drain from the node-local folders by hand.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "checkpoint/checkpoint_levels.hpp"
#include "checkpoint/checkpoint_manifest.hpp"
#include "checkpoint/checkpoint_reader.hpp"
#include "checkpoint/folder_lock.hpp"
#include "checkpoint/xor_parity.hpp"
#include "files/file_io.hpp"
#include "files/publish_file.hpp"
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

namespace {

// What the node folders of local_dir hold of each step: a manifest, and per shard the node
// folders holding it.
struct LocalStep {
  std::optional<detail::Manifest> manifest;
  std::string manifest_node;
  std::map<int, std::vector<std::string>> holders;
};

std::map<long, LocalStep> scan_local(const std::string& local_dir) {
  std::map<long, LocalStep> steps;
  for (const std::string& node : detail::node_folders(local_dir)) {
    const std::string folder = detail::node_folder(local_dir, node);
    std::vector<long> found;
    try {
      found = detail::step_folders(folder);
    } catch (const Error&) {
      continue;
    }
    for (long step : found) {
      if (detail::manifest_presence(folder, step) != detail::ManifestPresence::present) continue;
      LocalStep& s = steps[step];
      try {
        detail::Manifest m = detail::read_manifest(folder, step);
        for (int r = 0; r < m.ranks; ++r) {
          std::error_code ec;
          if (fs::is_regular_file(detail::shard_path(folder, step, r), ec))
            s.holders[r].push_back(node);
        }
        if (!s.manifest) {
          s.manifest = std::move(m);
          s.manifest_node = node;
        }
      } catch (const Error&) {
        // A damaged manifest in one node folder: the others may still have the step.
      }
    }
  }
  return steps;
}

// "local" (every shard in the folder of the node that wrote it), "partner" (each in some
// folder), "xor" (the shards in no folder can be rebuilt from XOR parity), or "incomplete".
std::string local_state(const std::string& local_dir, long step, const LocalStep& s) {
  if (!s.manifest) return "incomplete";
  std::vector<int> missing;
  for (int r = 0; r < s.manifest->ranks; ++r) {
    if (s.holders.find(r) == s.holders.end()) missing.push_back(r);
  }
  if (!missing.empty()) {
    return detail::xor_rebuildable(local_dir, step, *s.manifest, s.holders, missing) ? "xor"
                                                                                     : "incomplete";
  }
  bool own = true;
  for (int r = 0; r < s.manifest->ranks; ++r) {
    auto it = s.holders.find(r);
    const auto& nodes = s.manifest->nodes;
    if (nodes.size() != static_cast<std::size_t>(s.manifest->ranks) ||
        std::find(it->second.begin(), it->second.end(), nodes[static_cast<std::size_t>(r)]) ==
            it->second.end()) {
      own = false;
    }
  }
  return own ? "local" : "partner";
}

}  // namespace

LevelListing list_checkpoint_levels(const std::string& dir, const std::string& local_dir) {
  std::map<long, StepLevels> by_step;
  for (const CheckpointInfo& c : list_checkpoints(dir)) {
    StepLevels& l = by_step[c.step];
    l.step = c.step;
    l.ranks = c.ranks;
    l.shared = true;
  }
  for (const auto& [step, s] : scan_local(local_dir)) {
    StepLevels& l = by_step[step];
    l.step = step;
    if (s.manifest) l.ranks = s.manifest->ranks;
    l.local = local_state(local_dir, step, s);
    for (const auto& [rank, nodes] : s.holders) {
      for (const std::string& n : nodes) {
        if (std::find(l.nodes.begin(), l.nodes.end(), n) == l.nodes.end()) l.nodes.push_back(n);
      }
    }
    std::sort(l.nodes.begin(), l.nodes.end());
  }
  LevelListing out;
  for (auto& [step, l] : by_step) {
    const bool from_local = l.local == "local" || l.local == "partner" || l.local == "xor";
    if (from_local || l.shared) {
      out.restart_step = step;
      out.restart_level = l.local == "local"     ? CheckpointLevel::local
                          : l.local == "partner" ? CheckpointLevel::partner
                          : l.local == "xor"     ? CheckpointLevel::xor_parity
                                                 : CheckpointLevel::shared;
    }
    out.steps.push_back(std::move(l));
  }
  return out;
}

std::optional<long> drain_checkpoint(const std::string& dir, const std::string& local_dir,
                                     std::optional<long> step) {
  detail::make_folder(dir);
  detail::FolderLock lock(dir);  // refused while a job writes the folder
  const auto local = scan_local(local_dir);
  if (!step) {
    for (const auto& [s, l] : local) {
      const std::string state = local_state(local_dir, s, l);
      if ((state == "local" || state == "partner") &&
          detail::manifest_presence(dir, s) != detail::ManifestPresence::present) {
        step = s;
      }
    }
    if (!step) return std::nullopt;
  }
  auto it = local.find(*step);
  if (it == local.end() || !it->second.manifest) {
    throw Error(ErrorCategory::invalid_argument, "the node-local folders do not hold this step",
                {{"folder", local_dir}, {"step", std::to_string(*step)}});
  }
  const detail::Manifest& m = *it->second.manifest;
  const std::string tmp = detail::temp_step_folder(dir, *step);
  std::error_code ec;
  fs::remove_all(tmp, ec);  // a drain that died: its copies are not trusted
  try {
    detail::create_temp_step_folder(tmp);
    for (int r = 0; r < m.ranks; ++r) {
      std::string why = "in no node folder";
      bool copied = false;
      auto holders = it->second.holders.find(r);
      for (const std::string& node :
           holders == it->second.holders.end() ? std::vector<std::string>{} : holders->second) {
        const std::string folder = detail::node_folder(local_dir, node);
        try {
          detail::StepReader reader(folder, m);
          reader.verify_shard(r);
          detail::copy_file_in_pieces(detail::shard_path(folder, *step, r),
                                      (fs::path(tmp) / detail::shard_name(r)).string(),
                                      detail::kShardCopyPieceBytes, {});
          copied = true;
          break;
        } catch (const Error& e) {
          why = e.what();
          fs::remove(fs::path(tmp) / detail::shard_name(r), ec);
        }
      }
      if (!copied) {
        throw Error(ErrorCategory::io,
                    "cannot drain: no good copy of the shard of rank " + std::to_string(r) + " (" +
                        why + ")",
                    {{"folder", local_dir}, {"step", std::to_string(*step)}});
      }
    }
    detail::publish_step(dir, *step, m);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  return step;
}

}  // namespace strata::io
