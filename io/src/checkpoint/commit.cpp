// SPDX-License-Identifier: Apache-2.0
// The two-phase commit of a save, on the background thread's own communicator: every rank's
// outcome (its record of the manifest's rank table, or why its shard failed) meets at rank 0,
// which merges the manifest, writes it into step-N.tmp/, renames the folder to step-N and fsyncs;
// the decision comes back to every rank, so all agree whether the step exists. Older steps are
// pruned after the commit is reported (save_pipeline.cpp).
#include <cstdio>
#include <filesystem>

#include "checkpoint/checkpointer_impl.hpp"
#include "checkpoint/rank_outcome.hpp"
#include "files/publish_file.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io {
namespace {

namespace fs = std::filesystem;
using detail::RankOutcome;

// Rank 0's decision from every rank's outcome: ok once the step is committed, else the first
// failure (naming its rank) with its category. With a local level nothing is published here:
// the ok decision carries the merged manifest, and each node's leader commits its node folder.
RankOutcome decide(const CheckpointOptions& options, long step, int ranks,
                   const std::vector<std::vector<std::byte>>& parts,
                   const std::vector<std::string>& nodes) {
  std::vector<std::string> records;
  records.reserve(parts.size());
  try {
    for (std::size_t r = 0; r < parts.size(); ++r) {
      RankOutcome o = RankOutcome::decode(parts[r], "rank " + std::to_string(r));
      if (o.kind != RankOutcome::Kind::ok) {
        return {RankOutcome::Kind::failed, o.category, "rank " + std::to_string(r) + ": " + o.text};
      }
      records.push_back(std::move(o.text));
    }
    detail::Manifest m = detail::merge_rank_parts(step, ranks, options.codec, records);
    m.run = options.run_id;
    if (!options.local_dir.empty()) {
      m.nodes = nodes;
      return {RankOutcome::Kind::ok, ErrorCategory::io, detail::encode_manifest(m)};
    }
    detail::publish_step(options.dir, step, m);
    return {};
  } catch (const Error& e) {
    return {RankOutcome::Kind::failed, e.category(), std::string("rank 0 (commit): ") + e.what()};
  } catch (const std::exception& e) {
    return {RankOutcome::Kind::failed, ErrorCategory::system,
            std::string("rank 0 (commit): ") + e.what()};
  }
}

}  // namespace

// Phase two: every rank's outcome meets at rank 0; the decision comes back to every rank.
void Checkpointer::Impl::commit(long step, const std::string& local_error,
                                ErrorCategory local_category, const detail::Manifest& part,
                                CheckpointClock::time_point started) {
  MpiContext& mpi = *commit_mpi;
  // A rank's part is its fixed-width record of the rank table (plus its depends_on and the
  // regions' step-wide fields), so rank 0 parses no JSON per rank. Encoding it cannot fail on a
  // part save_pipeline built; should it, the failure travels in the gather like any other.
  RankOutcome mine{RankOutcome::Kind::failed, local_category, local_error};
  if (local_error.empty()) {
    try {
      mine = {RankOutcome::Kind::ok, local_category, detail::encode_rank_part(part, mpi.rank())};
    } catch (const Error& e) {
      mine = {RankOutcome::Kind::failed, e.category(), e.what()};
    }
  }
  auto parts = mpi.gather_bytes(mine.encode(), 0);

  std::vector<std::byte> decided;
  if (mpi.rank() == 0) {
    const RankOutcome decision = decide(options, step, mpi.size(), parts, layout.node_of_rank);
    if (decision.kind != RankOutcome::Kind::ok && !levels()) {
      std::error_code ec;
      fs::remove_all(detail::temp_step_folder(options.dir, step), ec);
    }
    decided = decision.encode();
  }
  RankOutcome decision = RankOutcome::decode(mpi.broadcast_bytes(decided, 0), "rank 0");
  detail::Manifest merged;
  if (levels()) {
    // Each node's leader commits its node folder (its ranks' shards and the partner copies it
    // received); the step is committed on the local level once every node's folder is.
    const bool leader = layout.leader_of(mpi.rank()) == mpi.rank();
    RankOutcome local;
    if (decision.kind == RankOutcome::Kind::ok) {
      try {
        merged = detail::decode_manifest(decision.text, "the commit decision");
        if (leader) {
          detail::publish_step(my_node_folder, step, merged);
        }
      } catch (const std::exception& e) {
        local = {RankOutcome::Kind::failed, ErrorCategory::io,
                 "rank " + std::to_string(mpi.rank()) + " (node folder " + my_node_folder +
                     "): " + e.what()};
      }
      for (const auto& bytes : mpi.allgather_bytes(local.encode())) {
        RankOutcome o = RankOutcome::decode(bytes, "a node leader");
        if (o.kind != RankOutcome::Kind::ok && decision.kind == RankOutcome::Kind::ok) decision = o;
      }
    }
    if (decision.kind != RankOutcome::Kind::ok && leader) {
      std::error_code ec;
      fs::remove_all(detail::temp_step_folder(my_node_folder, step), ec);
    }
  }

  std::lock_guard lock(status_mutex);
  status.total_seconds = std::chrono::duration<double>(CheckpointClock::now() - started).count();
  if (decision.kind == RankOutcome::Kind::ok) {
    status.state = SaveState::committed;
    for (std::size_t i = 0; i < regions.size(); ++i) {
      const ProtectedRegion& p = regions[i];
      const detail::BlockRecord& b = part.regions[i].blocks[0];
      previous[p.name] = {p.first_row, p.rows(), options.chunk_bytes, b.chunks};
    }
    const bool any_reused = status.chunks_reused > 0;
    incremental_saves = any_reused ? incremental_saves + 1 : 0;
    failure = nullptr;
    if (levels()) {
      status.level = options.partner         ? CheckpointLevel::partner
                     : options.xor_group > 0 ? CheckpointLevel::xor_parity
                                             : CheckpointLevel::local;
      ++local_commits;
      newest_local = step;
      newest_local_manifest = std::move(merged);
      newest_local_started = started;
    }
  } else {
    status.state = SaveState::failed;
    status.error = decision.text;
    ErrorCategory category = decision.category;
    if (category == ErrorCategory::invalid_argument) category = ErrorCategory::distributed;
    failure = std::make_exception_ptr(
        Error(category, "checkpoint " + step_text(step) + " failed: " + status.error,
              {{"folder", options.dir}, {"step", std::to_string(step)}}));
  }
}

}  // namespace strata::io
