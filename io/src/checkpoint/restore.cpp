// SPDX-License-Identifier: Apache-2.0
// restore_latest(): with a local level, the node-local folders first (rebuilding a lost node's
// shards from partner copies on other nodes, or from XOR parity), then the shared folder. Rank 0
// lists the complete steps, newest first; every rank reads its rows of a
// candidate into staging (each chunk checked against its XXH3) and reports a RankOutcome; only a
// step usable on every rank is copied into the protected regions, so nothing is overwritten
// before a checkpoint has verified. Damaged steps are skipped with a warning naming the problem.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>

#include "checkpoint/checkpoint_reader.hpp"
#include "checkpoint/checkpointer_impl.hpp"
#include "checkpoint/rank_outcome.hpp"
#include "files/publish_file.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"

namespace strata::io {

using detail::BlockRecord;
using detail::Manifest;
using detail::RankOutcome;
using detail::RegionRecord;

std::string Checkpointer::Impl::check_compatible(const Manifest& m,
                                                 const ProtectedRegion& p) const {
  const RegionRecord* r = m.find(p.name);
  std::string where = "checkpoint " + step_text(m.step) + ", region '" + p.name + "': ";
  if (r == nullptr) return where + "not in the checkpoint";
  if (r->dtype != p.dtype) {
    return where + "dtype " + std::string(to_string(r->dtype)) + " in the checkpoint, " +
           std::string(to_string(p.dtype)) + " protected";
  }
  if (p.kind == RegionKind::rank_local) {
    if (!r->rank_local) return where + "rank-local now, global in the checkpoint";
    if (m.ranks != rt.size()) {
      return where + "rank-local state needs the same number of ranks (" + std::to_string(m.ranks) +
             " in the checkpoint, " + std::to_string(rt.size()) + " now)";
    }
    for (const BlockRecord& b : r->blocks) {
      if (b.rank == rt.rank() && b.rows * r->row_bytes() != p.data.size()) {
        return where + std::to_string(b.rows * r->row_bytes()) + " bytes of rank " +
               std::to_string(b.rank) + " in the checkpoint, " + std::to_string(p.data.size()) +
               " protected (a mapped file must have the size it had at the save)";
      }
    }
    return {};
  }
  if (r->rank_local) return where + "global now, rank-local in the checkpoint";
  if (!(r->global_shape == p.global_shape)) {
    return where + "global shape " + r->global_shape.to_string() + " in the checkpoint, " +
           p.global_shape.to_string() + " protected";
  }
  return {};
}

void Checkpointer::Impl::read_into_staging(detail::StepReader& reader) {
  arena.execute([&] {
    for (const ProtectedRegion& p : regions) {
      const RegionRecord& r = *reader.manifest().find(p.name);
      std::span<std::byte> out(staging.data() + p.staging_offset, p.data.size());
      if (p.kind == RegionKind::rank_local) {
        reader.read_rank_block(r, rt.rank(), out);
      } else {
        reader.read_rows(r, p.first_row, p.rows(), out);
      }
    }
  });
}

// Rank 0 reads the step's manifest and broadcasts its text (or why it could not read it); every
// rank decodes it. Every rank reading the file itself made the file system serve it once per node
// and rank, which at thousands of ranks took longer than reading the state (docs/scaling.md).
// Collective. Throws, on every rank alike, what reading or decoding throws.
Manifest Checkpointer::Impl::step_manifest(long step) {
  if (rt.size() == 1) return detail::read_manifest(options.dir, step);
  RankOutcome read;
  if (rt.rank() == 0) {
    try {
      read.text = detail::read_manifest_text(options.dir, step);
    } catch (const Error& e) {
      read = {RankOutcome::Kind::damaged, e.category(), e.what()};
    } catch (const std::exception& e) {
      read = {RankOutcome::Kind::damaged, ErrorCategory::io, e.what()};
    }
  }
  const RankOutcome shared =
      RankOutcome::decode(rt.mpi().broadcast_bytes(read.encode(), 0), "rank 0");
  if (shared.kind != RankOutcome::Kind::ok) throw Error(shared.category, shared.text);
  return detail::decode_step_manifest(shared.text, options.dir, step);
}

bool Checkpointer::Impl::attempt_restore(long step, const std::string& folder,
                                         const std::function<Manifest()>& manifest_of,
                                         CheckpointLevel level, const std::string& problem) {
  MpiContext& mpi = rt.mpi();
  RankOutcome outcome;
  std::optional<Manifest> manifest;
  try {
    detail::StepReader reader(folder, manifest_of());
    if (!problem.empty()) throw Error(ErrorCategory::io, problem);
    if (reader.manifest().run != options.run_id) {
      outcome.text = "checkpoint " + step_text(step) + " belongs to run '" + reader.manifest().run +
                     "', not to this run '" + options.run_id + "'";
    }
    for (const ProtectedRegion& p : regions) {
      if (!outcome.text.empty()) break;
      outcome.text = check_compatible(reader.manifest(), p);
    }
    if (!outcome.text.empty()) {
      outcome.kind = RankOutcome::Kind::incompatible;
    } else {
      read_into_staging(reader);
      manifest = reader.manifest();
    }
  } catch (const std::exception& e) {
    outcome = {RankOutcome::Kind::damaged, ErrorCategory::corrupt_data, e.what()};
  }
  std::vector<std::vector<std::byte>> all;
  if (rt.size() > 1) {
    all = mpi.allgather_bytes(outcome.encode());
  } else {
    all.push_back(outcome.encode());
  }
  std::string damaged;
  std::string incompatible;
  for (std::size_t r = 0; r < all.size(); ++r) {
    const RankOutcome o = RankOutcome::decode(all[r], "rank " + std::to_string(r));
    if (o.kind == RankOutcome::Kind::damaged) {
      if (!damaged.empty()) damaged += "; ";
      damaged += "rank " + std::to_string(r) + ": " + o.text;
    } else if (o.kind == RankOutcome::Kind::incompatible && incompatible.empty()) {
      incompatible = o.text;
    }
  }
  if (!damaged.empty()) {
    if (levels()) damaged = std::string("level ") + to_string(level) + ": " + damaged;
    last_restore.skipped.push_back({step, damaged});
    if (rt.rank() == 0) {
      log::warn("checkpoint " + step_text(step) + " skipped, falling back: " + damaged);
    }
    return false;
  }
  if (!incompatible.empty()) throw Error(ErrorCategory::invalid_argument, incompatible);

  for (const ProtectedRegion& p : regions) {
    parallel_copy(arena, std::span(staging.data() + p.staging_offset, p.data.size()), p.data);
  }
  flush_mappings();  // restored means in the file, not only in the page cache
  // The next save can reuse what this step holds when this rank's blocks are unchanged.
  previous.clear();
  incremental_saves = 0;
  for (const ProtectedRegion& p : regions) {
    for (const BlockRecord& b : manifest->find(p.name)->blocks) {
      // (Its chunks are known: this rank read these rows, so their shard's index was read.)
      if (b.rank == rt.rank() && manifest->ranks == rt.size() && b.first_row == p.first_row &&
          b.rows == p.rows() && b.chunks.size() == b.chunk_count) {
        previous[p.name] = {p.first_row, p.rows(), manifest->find(p.name)->chunk_bytes, b.chunks};
      }
    }
  }
  last_save_start = CheckpointClock::now();
  last_restore.step = step;
  last_restore.level = level;
  newest_step = step;  // going back to an older step is allowed: saves continue from here
  if (levels() && level != CheckpointLevel::shared) {
    newest_local = step;
    newest_local_manifest = *manifest;
    newest_local_started = CheckpointClock::now();
  }
  if (rt.rank() == 0 && levels()) {
    std::string text =
        "checkpoint: restored " + step_text(step) + " from the " + to_string(level) + " level";
    if (level == CheckpointLevel::partner || level == CheckpointLevel::xor_parity) {
      text += " (shards of rank";
      for (int r : last_restore.rebuilt_ranks) text += " " + std::to_string(r);
      text += level == CheckpointLevel::partner ? " rebuilt from partner copies)"
                                                : " rebuilt from XOR parity)";
    }
    log::info(text);
  }
  return true;
}

namespace {

// The steps (with a manifest) in `folder`, newest first.
std::vector<long> complete_steps(const std::string& folder) {
  std::vector<long> steps;
  try {
    for (long step : detail::step_folders(folder)) {
      if (detail::manifest_presence(folder, step) != detail::ManifestPresence::absent)
        steps.push_back(step);
    }
  } catch (const Error&) {
    // An unreadable node folder holds nothing usable.
  }
  return steps;
}

// The ranks whose shard file of `step` is in `folder`.
std::vector<int> shards_held(const std::string& folder, long step, int ranks) {
  std::vector<int> held;
  for (int r = 0; r < ranks; ++r) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(detail::shard_path(folder, step, r), ec))
      held.push_back(r);
  }
  return held;
}

}  // namespace

bool Checkpointer::Impl::restore_from_local(long step) {
  MpiContext& mpi = rt.mpi();
  const int me = rt.rank();
  const int ranks = rt.size();
  // What each node folder holds of the step: [manifest present] + the shards present.
  std::vector<int> mine{
      detail::manifest_presence(my_node_folder, step) == detail::ManifestPresence::present ? 1 : 0};
  for (int r : shards_held(my_node_folder, step, ranks)) mine.push_back(r);
  const auto all = mpi.allgather_bytes(std::as_bytes(std::span(mine)));
  std::vector<std::vector<int>> held(static_cast<std::size_t>(ranks));
  int manifest_rank = -1;
  for (int r = 0; r < ranks; ++r) {
    std::vector<int> v(all[static_cast<std::size_t>(r)].size() / sizeof(int));
    std::memcpy(v.data(), all[static_cast<std::size_t>(r)].data(), v.size() * sizeof(int));
    if (!v.empty() && v[0] == 1 && manifest_rank < 0) manifest_rank = r;
    if (!v.empty()) held[static_cast<std::size_t>(r)].assign(v.begin() + 1, v.end());
  }
  if (manifest_rank < 0) return false;
  // The manifest from the lowest rank whose node folder has it (rank 0's node may be the one lost).
  RankOutcome read;
  if (me == manifest_rank) {
    try {
      read.text = detail::read_manifest_text(my_node_folder, step);
    } catch (const std::exception& e) {
      read = {RankOutcome::Kind::damaged, ErrorCategory::io, e.what()};
    }
  }
  const RankOutcome shared = RankOutcome::decode(mpi.broadcast_bytes(read.encode(), manifest_rank),
                                                 "rank " + std::to_string(manifest_rank));
  std::optional<Manifest> m;
  std::string why_not;
  if (shared.kind == RankOutcome::Kind::ok) {
    try {
      m = detail::decode_step_manifest(shared.text, my_node_folder, step);
    } catch (const std::exception& e) {
      why_not = e.what();
    }
  } else {
    why_not = shared.text;
  }
  if (m && m->ranks != ranks) {
    why_not = "written by " + std::to_string(m->ranks) + " ranks, " + std::to_string(ranks) +
              " now (a local level restores on the same ranks; the shared folder on others)";
  }
  // Each rank reads only its own shard from its node folder: its blocks must be where they were.
  bool same_blocks = true;
  if (m && why_not.empty()) {
    for (const ProtectedRegion& p : regions) {
      const detail::RegionRecord* r = m->find(p.name);
      if (r == nullptr || p.kind == RegionKind::rank_local) continue;
      for (const BlockRecord& b : r->blocks) {
        if (b.rank == me && (b.first_row != p.first_row || b.rows != p.rows())) same_blocks = false;
      }
    }
  }
  if (!mpi.allreduce_and(same_blocks) && why_not.empty()) {
    why_not = "the ranks' rows moved since it was saved";
  }
  // A rank's own node folder lacks its shard: the lowest rank on another node whose folder holds
  // it sends it (a partner copy); a shard in no folder is rebuilt from XOR parity if it can be.
  std::vector<detail::FileTransfer> transfers;
  std::vector<int> shard_of;
  std::vector<int> lost;
  if (why_not.empty()) {
    for (int r = 0; r < ranks; ++r) {
      const auto& here = held[static_cast<std::size_t>(r)];
      if (std::find(here.begin(), here.end(), r) != here.end()) continue;
      int holder = -1;
      for (int h = 0; h < ranks && holder < 0; ++h) {
        const auto& there = held[static_cast<std::size_t>(h)];
        if (layout.node_of_rank[static_cast<std::size_t>(h)] !=
                layout.node_of_rank[static_cast<std::size_t>(r)] &&
            std::find(there.begin(), there.end(), r) != there.end()) {
          holder = h;
        }
      }
      if (holder < 0) {
        lost.push_back(r);
        continue;
      }
      transfers.push_back({holder, r});
      shard_of.push_back(r);
    }
  }
  std::string problem;
  // The ranks whose node folder gets a rebuilt shard from XOR parity (its writer's node).
  std::vector<detail::FileTransfer> rebuilt;
  if (why_not.empty() && !lost.empty()) {
    why_not = rebuild_from_parity(step, *m, held, lost, rebuilt, problem);
    for (const auto& w : rebuilt) {
      if (layout.node_of_rank[static_cast<std::size_t>(w.from)] !=
          layout.node_of_rank[static_cast<std::size_t>(w.to)]) {
        transfers.push_back(w);  // the writer runs on another node than the rank: send it on
        shard_of.push_back(w.to);
      }
    }
  }
  if (!why_not.empty()) {
    if (me == 0) {
      log::info("checkpoint " + step_text(step) +
                " cannot come from the node-local folders: " + why_not);
    }
    return false;
  }
  last_restore.rebuilt_ranks = shard_of;
  for (int r : lost) last_restore.rebuilt_ranks.push_back(r);
  std::sort(last_restore.rebuilt_ranks.begin(), last_restore.rebuilt_ranks.end());
  last_restore.rebuilt_ranks.erase(
      std::unique(last_restore.rebuilt_ranks.begin(), last_restore.rebuilt_ranks.end()),
      last_restore.rebuilt_ranks.end());
  if (!transfers.empty() || !rebuilt.empty()) {
    const std::string folder = detail::step_folder(my_node_folder, step);
    bool receiving = false;  // this node's folder receives a shard
    for (const auto& t : transfers) {
      receiving = receiving || layout.node_of_rank[static_cast<std::size_t>(t.to)] ==
                                   layout.node_of_rank[static_cast<std::size_t>(me)];
    }
    for (const auto& w : rebuilt) {
      receiving = receiving || layout.node_of_rank[static_cast<std::size_t>(w.from)] ==
                                   layout.node_of_rank[static_cast<std::size_t>(me)];
    }
    if (receiving) {
      try {
        detail::make_folder(folder);
      } catch (const std::exception& e) {
        problem = e.what();
      }
    }
    std::string moved = transfers.empty()
                            ? std::string()
                            : detail::transfer_files(
                                  mpi, transfers,
                                  [&](std::size_t t) {
                                    return detail::shard_path(my_node_folder, step, shard_of[t]);
                                  },
                                  [&](std::size_t t) {
                                    return detail::shard_path(my_node_folder, step, shard_of[t]);
                                  });
    if (problem.empty()) problem = moved;
    // The rebuilt folder gets the manifest too (its node's leader writes it), so it is a whole
    // local step again.
    const bool lacks =
        detail::manifest_presence(my_node_folder, step) != detail::ManifestPresence::present;
    if (problem.empty() && receiving && lacks && layout.leader_of(me) == me) {
      try {
        detail::write_file_durably(detail::manifest_path(my_node_folder, step), shared.text);
      } catch (const std::exception& e) {
        problem = e.what();
      }
    }
  }
  const CheckpointLevel level = !lost.empty()        ? CheckpointLevel::xor_parity
                                : !transfers.empty() ? CheckpointLevel::partner
                                                     : CheckpointLevel::local;
  return attempt_restore(
      step, my_node_folder, [&] { return *m; }, level, problem);
}

std::optional<long> Checkpointer::restore_latest() {
  Impl& d = *impl_;
  d.harvest();
  d.join_drain();
  // Mapped files are restored at their current place and size, and not remapped meanwhile.
  auto held = d.follow_mappings();
  d.resolve_stacked();
  d.last_restore = RestoreReport{};
  MpiContext& mpi = d.rt.mpi();

  // Rank 0 decides the candidates, so every rank walks the same list.
  std::vector<long> candidates;
  if (d.rt.rank() == 0) {
    for (long step : detail::step_folders(d.options.dir)) {
      // An unreadable step is a candidate: trying it skips it with the reason.
      if (detail::manifest_presence(d.options.dir, step) != detail::ManifestPresence::absent) {
        candidates.push_back(step);
      }
    }
  }
  if (d.rt.size() > 1) {
    auto bytes = mpi.broadcast_bytes(std::as_bytes(std::span(candidates)), 0);
    candidates.resize(bytes.size() / sizeof(long));
    std::memcpy(candidates.data(), bytes.data(), bytes.size());
  }
  std::sort(candidates.rbegin(), candidates.rend());
  // With a local level: the steps any node folder holds, gathered from every rank.
  std::vector<long> local;
  if (d.levels()) {
    const std::vector<long> mine = complete_steps(d.my_node_folder);
    for (const auto& bytes : mpi.allgather_bytes(std::as_bytes(std::span(mine)))) {
      std::vector<long> v(bytes.size() / sizeof(long));
      std::memcpy(v.data(), bytes.data(), bytes.size());
      local.insert(local.end(), v.begin(), v.end());
    }
    std::sort(local.begin(), local.end());
    local.erase(std::unique(local.begin(), local.end()), local.end());
  }
  std::vector<long> steps = candidates;
  steps.insert(steps.end(), local.begin(), local.end());
  std::sort(steps.rbegin(), steps.rend());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  d.layout_staging();

  for (long step : steps) {
    if (std::binary_search(local.begin(), local.end(), step) && d.restore_from_local(step)) {
      // Not yet in `shared` (a drain the previous job did not finish): drain it now.
      const bool drained =
          std::find(candidates.begin(), candidates.end(), step) != candidates.end();
      d.newest_drained.reset();
      if (drained) {
        d.newest_drained = step;
      } else if (d.options.drain_every > 0) {
        d.start_drain(step, d.newest_local_manifest, d.newest_local_started);
      }
      return step;
    }
    if (std::find(candidates.begin(), candidates.end(), step) == candidates.end()) continue;
    d.last_restore.rebuilt_ranks.clear();
    if (d.attempt_restore(step, d.options.dir, [&] { return d.step_manifest(step); },
                          CheckpointLevel::shared, {})) {
      if (d.levels()) d.newest_drained = step;
      return step;
    }
  }
  return std::nullopt;
}

}  // namespace strata::io
