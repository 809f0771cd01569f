// SPDX-License-Identifier: Apache-2.0
// Test helper: reserves hugetlb pages through the per-size sysfs file (nr_hugepages) for the life
// of the object and restores the previous value afterwards, as root may. Test processes that run
// side by side (ctest -j) take turns: each holds an exclusive flock on that file while it has
// changed it, so one's restore never undoes another's reservation.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
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
    lock_ = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
    if (lock_ >= 0 && ::flock(lock_, LOCK_EX) != 0) {
      ::close(lock_);
      lock_ = -1;
    }
    if (!read(previous_)) return;
    if (!write(previous_ + pages)) return;
    std::uint64_t now = 0;
    read(now);
    changed_ = true;
    reserved_ = now > previous_ ? now - previous_ : 0;
  }
  ~HugePageReservation() {
    if (changed_) write(previous_);
    if (lock_ >= 0) ::close(lock_);  // releases the flock
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
  int lock_ = -1;
};

}  // namespace strata::test
