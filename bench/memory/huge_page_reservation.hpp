// SPDX-License-Identifier: Apache-2.0
// Reserves 2 MiB hugetlb pages for the memory suite's run by raising the kernel's pool
// (/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages), and gives them back when the run ends:
// on return, on an exception leaving main, and on SIGINT, SIGTERM or SIGHUP.
#pragma once

#include <cstdint>
#include <string>

namespace strata::bench::memory {

class huge_page_reservation {
 public:
  // Raises the pool so that at least `free_pages_wanted` pages are free, when running as root and
  // fewer are. Never throws for a refusal (not root, read-only sysfs, fragmented memory): the
  // cases that then find too few pages skip themselves, and outcome() says why.
  explicit huge_page_reservation(std::uint64_t free_pages_wanted);
  // Puts the pool back to its old size, unless someone else has changed it since.
  ~huge_page_reservation();
  huge_page_reservation(const huge_page_reservation&) = delete;
  huge_page_reservation& operator=(const huge_page_reservation&) = delete;

  // One line for the report: what the pool held, what was asked, what the kernel gave.
  const std::string& outcome() const noexcept { return outcome_; }

 private:
  std::string outcome_;
  bool raised_ = false;
};

}  // namespace strata::bench::memory
