// SPDX-License-Identifier: Apache-2.0
// MemoryStatistics and MemoryCharge: per-node accounting under one mutex (regions are created
// rarely; the small-allocation fast path belongs to the pools, not here).
#include "strata/runtime/memory/memory_statistics.hpp"

#include <algorithm>

namespace strata {

MemoryStatistics::MemoryStatistics(std::size_t nodes) : nodes_(std::max<std::size_t>(nodes, 1)) {}

void MemoryStatistics::add(unsigned node, std::uint64_t bytes, ChargeKind kind,
                           PlacementPolicy policy, bool region) {
  std::lock_guard lock(mutex_);
  NodeMemoryStats& s = nodes_.at(std::min<std::size_t>(node, nodes_.size() - 1));
  s.bytes_in_use += bytes;
  s.peak_bytes = std::max(s.peak_bytes, s.bytes_in_use);
  if (kind == ChargeKind::hugetlb) s.hugetlb_bytes += bytes;
  if (kind == ChargeKind::transparent) s.transparent_bytes += bytes;
  if (kind == ChargeKind::small) s.small_bytes += bytes;
  if (region) ++s.regions_by_policy[static_cast<std::size_t>(policy)];
}

void MemoryStatistics::remove(unsigned node, std::uint64_t bytes, ChargeKind kind,
                              PlacementPolicy policy, bool region) noexcept {
  std::lock_guard lock(mutex_);
  NodeMemoryStats& s = nodes_[std::min<std::size_t>(node, nodes_.size() - 1)];
  s.bytes_in_use -= bytes;
  if (kind == ChargeKind::hugetlb) s.hugetlb_bytes -= bytes;
  if (kind == ChargeKind::transparent) s.transparent_bytes -= bytes;
  if (kind == ChargeKind::small) s.small_bytes -= bytes;
  if (region) --s.regions_by_policy[static_cast<std::size_t>(policy)];
}

std::vector<NodeMemoryStats> MemoryStatistics::snapshot() const {
  std::lock_guard lock(mutex_);
  return nodes_;
}

MemoryCharge::MemoryCharge(std::shared_ptr<MemoryStatistics> stats, ChargeKind kind,
                           PlacementPolicy policy)
    : stats_(std::move(stats)), kind_(kind), policy_(policy) {}

MemoryCharge& MemoryCharge::operator=(MemoryCharge&& other) noexcept {
  if (this != &other) {
    release();
    stats_ = std::move(other.stats_);
    kind_ = other.kind_;
    policy_ = other.policy_;
    parts_ = std::move(other.parts_);
  }
  return *this;
}

MemoryCharge::~MemoryCharge() { release(); }

void MemoryCharge::add(unsigned node, std::uint64_t bytes) {
  if (!stats_) return;
  bool region = parts_.empty();
  parts_.reserve(parts_.size() + 1);  // reserve first so a throw cannot leave stats unbalanced
  stats_->add(node, bytes, kind_, policy_, region);
  parts_.push_back(Part{node, bytes, region});
}

void MemoryCharge::release() noexcept {
  if (!stats_) return;
  for (const Part& p : parts_) stats_->remove(p.node, p.bytes, kind_, policy_, p.region);
  parts_.clear();
  stats_.reset();
}

}  // namespace strata
