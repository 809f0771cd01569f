// SPDX-License-Identifier: Apache-2.0
// Raising the 2 MiB hugetlb pool for the memory suite and putting it back. The restore runs from
// a signal handler too, so it uses only async-signal-safe calls and state prepared beforehand.
#include "huge_page_reservation.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "strata/runtime/machine/huge_pages.hpp"

namespace strata::bench::memory {
namespace {

constexpr const char* pool_file = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
constexpr std::uint64_t two_mib = std::uint64_t{2} << 20;
constexpr std::array<int, 3> handled_signals = {SIGINT, SIGTERM, SIGHUP};

// A pool size as the decimal text sysfs reads and writes, kept in fixed storage so the signal
// handler can compare and write it without allocating.
struct pool_text {
  std::array<char, 24> digits{};
  std::size_t length = 0;

  explicit pool_text(std::uint64_t pages = 0) {
    length = static_cast<std::size_t>(
        std::to_chars(digits.data(), digits.data() + digits.size(), pages).ptr - digits.data());
  }
  std::string_view view() const noexcept { return {digits.data(), length}; }
};

// Set before the handlers are installed and before the signals are unblocked; read by both the
// handler and the destructor, whichever restores first (`raised` makes it happen once).
pool_text old_size;
pool_text raised_size;
std::atomic<bool> raised{false};
std::array<struct sigaction, handled_signals.size()> previous_actions{};

enum class restore_result { restored, changed_since, failed, nothing_to_do };

// Writes old_size back when the pool is still at raised_size: someone who resized it during the
// run (a test, an administrator) meant it, and their value stays. Async-signal-safe.
restore_result restore_pool() noexcept {
  if (!raised.exchange(false)) return restore_result::nothing_to_do;
  int fd = ::open(pool_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return restore_result::failed;
  std::array<char, 32> now{};
  const ssize_t n = ::read(fd, now.data(), now.size() - 1);
  ::close(fd);
  if (n <= 0) return restore_result::failed;
  std::string_view current(now.data(), static_cast<std::size_t>(n));
  while (!current.empty() && (current.back() == '\n' || current.back() == ' ')) {
    current.remove_suffix(1);
  }
  if (current != raised_size.view()) return restore_result::changed_since;
  fd = ::open(pool_file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return restore_result::failed;
  const bool written =
      ::write(fd, old_size.digits.data(), old_size.length) == static_cast<ssize_t>(old_size.length);
  ::close(fd);
  return written ? restore_result::restored : restore_result::failed;
}

// The signal's default action (ending the process) follows the restore, as without the handler.
extern "C" void restore_then_reraise(int signal_number) {
  restore_pool();
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

std::optional<HugePageSize> two_mib_pool() {
  const std::vector<HugePageSize> sizes = huge_page_sizes();
  const auto it = std::find_if(sizes.begin(), sizes.end(),
                               [](const HugePageSize& size) { return size.page_bytes == two_mib; });
  if (it == sizes.end()) return std::nullopt;
  return *it;
}

// Free pages no mapping has been promised yet.
std::uint64_t unpromised(const HugePageSize& pool) {
  return pool.free_pages - std::min(pool.free_pages, pool.reserved_pages);
}

bool write_pool_size(std::uint64_t pages) {
  const pool_text text(pages);
  const int fd = ::open(pool_file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool written =
      ::write(fd, text.digits.data(), text.length) == static_cast<ssize_t>(text.length);
  const int err = errno;
  ::close(fd);
  errno = err;
  return written;
}

}  // namespace

huge_page_reservation::huge_page_reservation(std::uint64_t free_pages_wanted) {
  const std::optional<HugePageSize> before = two_mib_pool();
  if (!before) {
    outcome_ = "the kernel offers no 2 MiB hugetlb pages";
    return;
  }
  const std::string wanted = std::to_string(free_pages_wanted) + " wanted";
  const std::uint64_t available = unpromised(*before);
  if (available >= free_pages_wanted) {
    outcome_ = std::to_string(available) + " of " + std::to_string(before->total_pages) +
               " free (" + wanted + "), the pool left as it was";
    return;
  }
  if (::geteuid() != 0) {
    outcome_ = "not root: " + std::to_string(available) + " of " +
               std::to_string(before->total_pages) + " free (" + wanted +
               "), the pool left as it was";
    return;
  }

  // The handled signals wait until the handlers and their state are in place, so no signal can
  // end the run between raising the pool and being able to put it back.
  sigset_t blocked, previous_mask;
  sigemptyset(&blocked);
  for (int s : handled_signals) sigaddset(&blocked, s);
  pthread_sigmask(SIG_BLOCK, &blocked, &previous_mask);

  const std::uint64_t target = before->total_pages + (free_pages_wanted - available);
  const bool written = write_pool_size(target);
  const int write_error = errno;
  // Read back even after an error: whatever the kernel did to the pool is what must be undone.
  const std::optional<HugePageSize> after = two_mib_pool();
  const std::uint64_t now_total =
      after ? after->total_pages : (written ? target : before->total_pages);
  if (now_total != before->total_pages) {
    old_size = pool_text(before->total_pages);
    raised_size = pool_text(now_total);
    raised.store(true);
    raised_ = true;
    struct sigaction action {};
    action.sa_handler = restore_then_reraise;
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < handled_signals.size(); ++i) {
      sigaction(handled_signals[i], &action, &previous_actions[i]);
    }
  }
  outcome_ = (raised_ ? "raised from " + std::to_string(before->total_pages) + " to " +
                            std::to_string(now_total) + " pages for the run, "
                      : "left at " + std::to_string(now_total) + " pages, ") +
             std::to_string(after ? unpromised(*after) : available) + " free (" + wanted + ")";
  if (!written) {
    outcome_ += "; writing " + std::string(pool_file) + " failed: " + std::strerror(write_error);
  } else if (now_total < target) {
    outcome_ += "; the kernel found fewer than asked (fragmented memory)";
  }
  pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
}

huge_page_reservation::~huge_page_reservation() {
  if (!raised_) return;
  const restore_result result = restore_pool();
  for (std::size_t i = 0; i < handled_signals.size(); ++i) {
    sigaction(handled_signals[i], &previous_actions[i], nullptr);
  }
  if (result == restore_result::changed_since) {
    std::fprintf(stderr,
                 "strata_bench_memory: %s changed during the run; left as it is, not put back "
                 "to %s\n",
                 pool_file, old_size.digits.data());
  } else if (result == restore_result::failed) {
    std::fprintf(stderr, "strata_bench_memory: could not put %s back to %s: %s\n", pool_file,
                 old_size.digits.data(), std::strerror(errno));
  }
}

}  // namespace strata::bench::memory
