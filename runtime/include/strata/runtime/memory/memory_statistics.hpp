// SPDX-License-Identifier: Apache-2.0
// MemoryStatistics: bytes in use, peak, huge-page bytes and regions by policy, per NUMA node, for
// everything the MemoryManager hands out. MemoryCharge is the RAII receipt a region or block
// holds: when it goes, its bytes are given back, so statistics return to zero when all is freed.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "strata/runtime/memory/placement.hpp"

namespace strata {

struct NodeMemoryStats {
  std::uint64_t bytes_in_use = 0;
  std::uint64_t peak_bytes = 0;
  std::uint64_t hugetlb_bytes = 0;      // backed by 2 MiB or 1 GiB hugetlb pages
  std::uint64_t transparent_bytes = 0;  // advised for transparent huge pages
  std::uint64_t small_bytes = 0;        // small requests served by the system allocator
  std::array<std::uint64_t, 4> regions_by_policy{};  // indexed by PlacementPolicy
};

enum class ChargeKind : std::uint8_t { base, hugetlb, transparent, small };

class MemoryStatistics {
 public:
  explicit MemoryStatistics(std::size_t nodes);
  void add(unsigned node, std::uint64_t bytes, ChargeKind kind, PlacementPolicy policy, bool region);
  void remove(unsigned node, std::uint64_t bytes, ChargeKind kind, PlacementPolicy policy,
              bool region) noexcept;
  std::vector<NodeMemoryStats> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::vector<NodeMemoryStats> nodes_;
};

// Bytes charged to nodes of a MemoryStatistics; returned when the charge is destroyed.
class MemoryCharge {
 public:
  MemoryCharge() = default;
  MemoryCharge(std::shared_ptr<MemoryStatistics> stats, ChargeKind kind, PlacementPolicy policy);
  MemoryCharge(MemoryCharge&&) noexcept = default;
  MemoryCharge& operator=(MemoryCharge&& other) noexcept;
  MemoryCharge(const MemoryCharge&) = delete;
  MemoryCharge& operator=(const MemoryCharge&) = delete;
  ~MemoryCharge();

  // Charges `bytes` to `node`; the first part charged also counts as one region.
  void add(unsigned node, std::uint64_t bytes);

 private:
  void release() noexcept;
  struct Part {
    unsigned node;
    std::uint64_t bytes;
    bool region;
  };
  std::shared_ptr<MemoryStatistics> stats_;
  ChargeKind kind_ = ChargeKind::base;
  PlacementPolicy policy_ = PlacementPolicy::local;
  std::vector<Part> parts_;
};

}  // namespace strata
