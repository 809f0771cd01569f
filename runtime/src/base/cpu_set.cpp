// SPDX-License-Identifier: Apache-2.0
// CpuSet: sorted unique CPU numbers and the Linux CPU-list text form.
#include "strata/runtime/base/cpu_set.hpp"

#include <algorithm>
#include <charconv>

#include "strata/runtime/base/error.hpp"

namespace strata {
namespace {

unsigned parse_cpu_number(std::string_view text, std::string_view list) {
  unsigned value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    throw Error(ErrorCategory::invalid_argument, "not a CPU number in CPU list",
                {{"list", std::string(list)}, {"part", std::string(text)}});
  }
  return value;
}

}  // namespace

CpuSet::CpuSet(std::vector<unsigned> cpus) : cpus_(std::move(cpus)) {
  std::sort(cpus_.begin(), cpus_.end());
  cpus_.erase(std::unique(cpus_.begin(), cpus_.end()), cpus_.end());
}

CpuSet CpuSet::parse(std::string_view list) {
  std::vector<unsigned> cpus;
  std::size_t start = 0;
  while (start <= list.size() && !list.empty()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view part = list.substr(start, comma - start);
    std::size_t dash = part.find('-');
    if (dash == std::string_view::npos) {
      cpus.push_back(parse_cpu_number(part, list));
    } else {
      unsigned first = parse_cpu_number(part.substr(0, dash), list);
      unsigned last = parse_cpu_number(part.substr(dash + 1), list);
      if (last < first || last - first > (1u << 20)) {
        throw Error(ErrorCategory::invalid_argument, "bad CPU range in CPU list",
                    {{"list", std::string(list)}, {"part", std::string(part)}});
      }
      for (unsigned c = first; c <= last; ++c) cpus.push_back(c);
    }
    start = comma + 1;
  }
  return CpuSet(std::move(cpus));
}

bool CpuSet::contains(unsigned cpu) const noexcept {
  return std::binary_search(cpus_.begin(), cpus_.end(), cpu);
}

CpuSet CpuSet::intersect(const CpuSet& other) const {
  std::vector<unsigned> out;
  std::set_intersection(cpus_.begin(), cpus_.end(), other.cpus_.begin(), other.cpus_.end(),
                        std::back_inserter(out));
  return CpuSet(std::move(out));
}

bool CpuSet::intersects(const CpuSet& other) const { return !intersect(other).empty(); }

std::string CpuSet::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < cpus_.size();) {
    std::size_t j = i;
    while (j + 1 < cpus_.size() && cpus_[j + 1] == cpus_[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus_[i]);
    if (j > i) out += '-' + std::to_string(cpus_[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace strata
