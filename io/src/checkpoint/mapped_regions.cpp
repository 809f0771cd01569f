// SPDX-License-Identifier: Apache-2.0
// Protected mapped files, followed rather than captured: before every save and restore each one's
// region is pointed at the file's current bytes (grow() may have moved and extended the mapping)
// while the mapping is held in place, and a restore ends by writing the restored bytes back to
// the file (msync). Both are collective, so one rank's problem fails the call on every rank.
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "checkpoint/checkpointer_impl.hpp"
#include "checkpoint/rank_outcome.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io {

using detail::RankOutcome;

namespace {

bool any_mapped(const std::vector<ProtectedRegion>& regions) {
  for (const ProtectedRegion& p : regions) {
    if (p.mapped != nullptr) return true;
  }
  return false;
}

// Collective: throws, on every rank, the first problem any rank reports (naming its rank), with
// that rank's category.
void agree_on(Runtime& rt, const RankOutcome& mine) {
  std::vector<std::vector<std::byte>> all;
  if (rt.size() > 1) {
    all = rt.mpi().allgather_bytes(mine.encode());
  } else {
    all.push_back(mine.encode());
  }
  for (std::size_t r = 0; r < all.size(); ++r) {
    const std::string who = "rank " + std::to_string(r);
    const RankOutcome o = RankOutcome::decode(all[r], who);
    if (o.kind != RankOutcome::Kind::ok) throw Error(o.category, who + ": " + o.text);
  }
}

RankOutcome outcome_of(const Error& e) {
  return {RankOutcome::Kind::failed, e.category(), e.what()};
}

}  // namespace

std::vector<std::shared_lock<std::shared_mutex>> Checkpointer::Impl::follow_mappings() {
  std::vector<std::shared_lock<std::shared_mutex>> held;
  if (!any_mapped(regions)) return held;  // every rank protects the same kinds of region
  RankOutcome mine;
  try {
    for (ProtectedRegion& p : regions) {
      if (p.mapped == nullptr) continue;
      MappedFile& file = *p.mapped;
      held.push_back(file.hold_mapping());
      const std::uint64_t bytes = file.size();
      if (p.kind == RegionKind::rank_local) {
        p.global_shape = Shape{bytes};
        p.local_shape = p.global_shape;
      } else {
        Shape row_shape = p.local_shape;  // every extent but the first
        const std::size_t row_bytes = p.local_shape.row_elements() * dtype_bytes(p.dtype);
        if (bytes % row_bytes != 0) {
          throw Error(ErrorCategory::invalid_argument,
                      "mapped file '" + file.path() + "' of region '" + p.name + "' is " +
                          std::to_string(bytes) + " bytes, not whole rows of " +
                          std::to_string(row_bytes) + " bytes, after it changed size");
        }
        Shape local{bytes / row_bytes};
        for (std::size_t d = 1; d < row_shape.rank(); ++d) local.push_back(row_shape[d]);
        p.local_shape = local;
        p.resolved = false;  // its rows may have changed on any rank: resolve_stacked() again
      }
      // Checks the file still covers the mapping (truncation is an error here, not a SIGBUS).
      p.data = bytes == 0 ? std::span<std::byte>() : file.writable_bytes(0, bytes);
    }
  } catch (const Error& e) {
    mine = outcome_of(e);
  }
  agree_on(rt, mine);
  // A rank-local region has one size on every rank (its global shape): a file grown on some
  // ranks only is refused here, on every rank and before anything is written, rather than at
  // the commit.
  if (rt.size() > 1) {
    std::vector<std::uint64_t> sizes;
    for (const ProtectedRegion& p : regions) {
      if (p.mapped != nullptr && p.kind == RegionKind::rank_local) sizes.push_back(p.data.size());
    }
    if (sizes.empty()) return held;
    const std::vector<std::vector<std::byte>> all = rt.mpi().allgather_bytes(std::as_bytes(std::span(sizes)));
    std::size_t k = 0;
    for (const ProtectedRegion& p : regions) {
      if (p.mapped == nullptr || p.kind != RegionKind::rank_local) continue;
      for (std::size_t r = 0; r < all.size(); ++r) {
        std::uint64_t theirs = 0;
        if (all[r].size() == sizes.size() * sizeof theirs) {
          std::memcpy(&theirs, all[r].data() + k * sizeof theirs, sizeof theirs);
        }
        if (theirs != sizes[k]) {
          throw Error(ErrorCategory::invalid_argument,
                      "rank-local mapped file of region '" + p.name + "' is " +
                          std::to_string(sizes[k]) + " bytes on rank " + std::to_string(rt.rank()) +
                          " and " + std::to_string(theirs) + " on rank " + std::to_string(r) +
                          ": grow it alike on every rank, or protect it with a row layout",
                      {{"file", p.mapped->path()}});
        }
      }
      ++k;
    }
  }
  return held;
}

void Checkpointer::Impl::flush_mappings() {
  if (!any_mapped(regions)) return;
  RankOutcome mine;
  try {
    for (const ProtectedRegion& p : regions) {
      if (p.mapped != nullptr) p.mapped->flush();  // copy_on_write: nothing goes to the file
    }
  } catch (const Error& e) {
    mine = outcome_of(e);
  }
  agree_on(rt, mine);
}

}  // namespace strata::io
