// SPDX-License-Identifier: Apache-2.0
// Test helper: reserves hugetlb pages through /proc/sys/vm/nr_hugepages (or the per-size sysfs
// file) for the life of the object and restores the previous value afterwards, as root may.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace strata::test {

class HugePageReservation {
 public:
  // Asks for `pages` pages of `page_kib` KiB; reserved() says how many the kernel granted.
  HugePageReservation(std::uint64_t page_kib, std::uint64_t pages)
      : file_("/sys/kernel/mm/hugepages/hugepages-" + std::to_string(page_kib) + "kB/nr_hugepages") {
    if (!read(previous_)) return;
    if (!write(previous_ + pages)) return;
    std::uint64_t now = 0;
    read(now);
    changed_ = true;
    reserved_ = now > previous_ ? now - previous_ : 0;
  }
  ~HugePageReservation() {
    if (changed_) write(previous_);
  }
  HugePageReservation(const HugePageReservation&) = delete;
  HugePageReservation& operator=(const HugePageReservation&) = delete;

  std::uint64_t reserved() const { return reserved_; }
  std::uint64_t previous() const { return previous_; }

 private:
  bool read(std::uint64_t& value) const {
    std::ifstream in(file_);
    return static_cast<bool>(in >> value);
  }
  bool write(std::uint64_t value) const {
    std::ofstream out(file_);
    out << value << '\n';
    out.close();
    return static_cast<bool>(out);
  }
  std::string file_;
  std::uint64_t previous_ = 0;
  std::uint64_t reserved_ = 0;
  bool changed_ = false;
};

}  // namespace strata::test
