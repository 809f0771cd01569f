// SPDX-License-Identifier: Apache-2.0
// CpuSet: a set of CPUs (operating-system PU numbers, as in taskset and /proc/cpuinfo), the
// currency of topology, binding and Slurm's CPU allocation. Printed and parsed as a Linux CPU
// list ("0-3,8,10-11").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace strata {

class CpuSet {
 public:
  CpuSet() = default;
  // Takes any order and duplicates; stores sorted and unique.
  explicit CpuSet(std::vector<unsigned> cpus);
  // Parses a Linux CPU list ("0-3,8"); throws Error(invalid_argument) naming the bad part.
  static CpuSet parse(std::string_view list);

  const std::vector<unsigned>& cpus() const noexcept { return cpus_; }
  bool empty() const noexcept { return cpus_.empty(); }
  std::size_t size() const noexcept { return cpus_.size(); }
  bool contains(unsigned cpu) const noexcept;
  CpuSet intersect(const CpuSet& other) const;
  bool intersects(const CpuSet& other) const;
  // The Linux CPU list form, "" for the empty set.
  std::string to_string() const;

  friend bool operator==(const CpuSet&, const CpuSet&) = default;

 private:
  std::vector<unsigned> cpus_;
};

}  // namespace strata
