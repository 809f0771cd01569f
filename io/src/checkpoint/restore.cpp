// SPDX-License-Identifier: Apache-2.0
// restore_latest(): rank 0 lists the complete steps, newest first; every rank reads its rows of a
// candidate into staging (each chunk checked against its XXH3) and reports a RankOutcome; only a
// step usable on every rank is copied into the protected regions, so nothing is overwritten
// before a checkpoint has verified. Damaged steps are skipped with a warning naming the problem.
#include <algorithm>
#include <cstring>
#include <optional>

#include "checkpoint/checkpoint_reader.hpp"
#include "checkpoint/checkpointer_impl.hpp"
#include "checkpoint/rank_outcome.hpp"
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

std::optional<long> Checkpointer::restore_latest() {
  Impl& d = *impl_;
  d.harvest();
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
  d.layout_staging();

  for (long step : candidates) {
    RankOutcome outcome;
    std::optional<Manifest> manifest;
    try {
      detail::StepReader reader(d.options.dir, d.step_manifest(step));
      if (reader.manifest().run != d.options.run_id) {
        outcome.text = "checkpoint " + step_text(step) + " belongs to run '" +
                       reader.manifest().run + "', not to this run '" + d.options.run_id + "'";
      }
      for (const ProtectedRegion& p : d.regions) {
        if (!outcome.text.empty()) break;
        outcome.text = d.check_compatible(reader.manifest(), p);
      }
      if (!outcome.text.empty()) {
        outcome.kind = RankOutcome::Kind::incompatible;
      } else {
        d.read_into_staging(reader);
        manifest = reader.manifest();
      }
    } catch (const std::exception& e) {
      outcome = {RankOutcome::Kind::damaged, ErrorCategory::corrupt_data, e.what()};
    }
    std::vector<std::vector<std::byte>> all;
    if (d.rt.size() > 1) {
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
      d.last_restore.skipped.push_back({step, damaged});
      if (d.rt.rank() == 0) {
        log::warn("checkpoint " + step_text(step) +
                  " skipped, falling back to an older one: " + damaged);
      }
      continue;
    }
    if (!incompatible.empty()) throw Error(ErrorCategory::invalid_argument, incompatible);

    for (const ProtectedRegion& p : d.regions) {
      parallel_copy(d.arena, std::span(d.staging.data() + p.staging_offset, p.data.size()), p.data);
    }
    d.flush_mappings();  // restored means in the file, not only in the page cache
    // The next save can reuse what this step holds when this rank's blocks are unchanged.
    d.previous.clear();
    d.incremental_saves = 0;
    for (const ProtectedRegion& p : d.regions) {
      for (const BlockRecord& b : manifest->find(p.name)->blocks) {
        if (b.rank == d.rt.rank() && manifest->ranks == d.rt.size() && b.first_row == p.first_row &&
            b.rows == p.rows()) {
          d.previous[p.name] = {p.first_row, p.rows(), manifest->find(p.name)->chunk_bytes,
                                b.chunks};
        }
      }
    }
    d.last_save_start = CheckpointClock::now();
    d.last_restore.step = step;
    d.newest_step = step;  // going back to an older step is allowed: saves continue from here
    return step;
  }
  return std::nullopt;
}

}  // namespace strata::io
