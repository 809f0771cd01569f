// SPDX-License-Identifier: Apache-2.0
// The unfinished-file table, the interrupt handler that empties it, hidden temporary names with
// their writer's pid and host, and the sweep that removes a killed writer's leftovers.
#include "strata/io/files/unfinished_files.hpp"

#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "files/publish_file.hpp"
#include "files/unfinished_registry.hpp"

namespace strata::io {
namespace detail {
namespace {

// A slot of the table: free, being filled, holding a path, or its file being renamed into place.
enum SlotState : int { kFree = 0, kFilling = 1, kHeld = 2, kPublishing = 3 };

// 64 unfinished files at once is far more than any command writes (one); a library user with more
// gets the rest removed by the next run's sweep instead.
constexpr int kSlots = 64;
constexpr std::size_t kPathBytes = 4096;

struct Slot {
  std::atomic<int> state{kFree};
  char path[kPathBytes];
};
Slot slots[kSlots];

std::string random_hex() {
  unsigned char bytes[8];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_system_error("getrandom failed", errno);
    got += static_cast<std::size_t>(n);
  }
  char hex[17];
  for (std::size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return hex;
}

bool all_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

const std::string& host_hash() {
  static const std::string hash = [] {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::uint32_t h = 2166136261u;  // FNV-1a: a stable short tag, not a security measure
    for (const char* p = host; *p != '\0'; ++p) {
      h = (h ^ static_cast<unsigned char>(*p)) * 16777619u;
    }
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", h);
    return std::string(hex);
  }();
  return hash;
}

std::string unfinished_name_beside(const std::string& final_path) {
  const std::filesystem::path target(final_path);
  std::string name = ".";  // appended piecewise: GCC 12 warns on "." + string (-Wrestrict)
  name += target.filename().string();
  name += ".tmp-";
  name += std::to_string(::getpid());
  name += '-';
  name += host_hash();
  name += '-';
  name += random_hex();
  return (target.parent_path() / name).string();
}

bool parse_unfinished_name(const std::string& name, long& pid, std::string& host) {
  // ".NAME.tmp-PID-HHHHHHHH-RRRRRRRRRRRRRRRR", parsed from the right: NAME may hold anything.
  constexpr std::size_t kTail = 1 + 8 + 1 + 16;  // "-HOST-RANDOM"
  if (name.size() < 2 || name[0] != '.' || name.size() < kTail) return false;
  const std::string_view tail(name.data() + name.size() - kTail, kTail);
  if (tail[0] != '-' || tail[9] != '-' || !all_hex(tail.substr(1, 8)) ||
      !all_hex(tail.substr(10))) {
    return false;
  }
  const std::string_view head(name.data(), name.size() - kTail);
  const std::size_t marker = head.rfind(".tmp-");
  if (marker == std::string_view::npos || marker == 0) return false;
  const std::string_view digits = head.substr(marker + 5);
  if (digits.empty() || digits.size() > 10) return false;
  long value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value <= 0) return false;
  pid = value;
  host = std::string(tail.substr(1, 8));
  return true;
}

int register_unfinished(const std::string& path) noexcept {
  if (path.size() >= kPathBytes) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (slots[i].state.compare_exchange_strong(expected, kFilling)) {
      std::memcpy(slots[i].path, path.c_str(), path.size() + 1);
      slots[i].state.store(kHeld, std::memory_order_release);
      return i;
    }
  }
  return -1;
}

void mark_publishing(int slot) noexcept {
  if (slot >= 0) slots[slot].state.store(kPublishing, std::memory_order_release);
}

void unregister_unfinished(int slot) noexcept {
  if (slot >= 0) slots[slot].state.store(kFree, std::memory_order_release);
}

}  // namespace detail

namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction previous_actions[3];
char what_interrupted[512];
bool stderr_is_terminal = false;  // a progress bar may be mid-line: start on a fresh one
std::atomic<int> installed{0};

void write_text(const char* text) noexcept {
  std::size_t left = std::strlen(text);
  while (left > 0) {
    const ssize_t n = ::write(2, text, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text += n;
    left -= static_cast<std::size_t>(n);
  }
}

const char* signal_name(int signal_number) noexcept {
  switch (signal_number) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "a signal";
  }
}

// Only async-signal-safe calls: unlink, write, sigaction, raise.
extern "C" void on_interrupt(int signal_number) {
  const int saved_errno = errno;
  bool published = false;
  for (auto& slot : detail::slots) {
    const int state = slot.state.load(std::memory_order_acquire);
    if (state != detail::kHeld && state != detail::kPublishing) continue;
    // A file being published whose temporary name is gone was renamed into place: the output
    // was complete before the signal came.
    if (::unlink(slot.path) != 0 && errno == ENOENT && state == detail::kPublishing) {
      published = true;
    }
  }
  if (stderr_is_terminal) write_text("\n");
  write_text("strata: ");
  write_text(what_interrupted);
  write_text(" interrupted by ");
  write_text(signal_name(signal_number));
  write_text(published ? " after its output was complete\n" : "; nothing was written\n");
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  ::sigaction(signal_number, &default_action, nullptr);
  errno = saved_errno;
  ::raise(signal_number);  // pending until this handler returns, then ends the process
}

}  // namespace

InterruptCleanup::InterruptCleanup(std::string_view what) {
  if (installed.exchange(1) != 0) {
    throw Error(ErrorCategory::invalid_argument, "an InterruptCleanup is already installed");
  }
  const std::size_t n = std::min(what.size(), sizeof what_interrupted - 1);
  std::memcpy(what_interrupted, what.data(), n);
  what_interrupted[n] = '\0';
  stderr_is_terminal = ::isatty(2) != 0;
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  for (int s : kSignals) sigaddset(&action.sa_mask, s);  // one handler at a time
  for (int i = 0; i < 3; ++i) {
    if (::sigaction(kSignals[i], &action, &previous_actions[i]) != 0) {
      const int err = errno;
      for (int j = 0; j < i; ++j) ::sigaction(kSignals[j], &previous_actions[j], nullptr);
      installed.store(0);
      throw_system_error("sigaction", err);
    }
  }
}

InterruptCleanup::~InterruptCleanup() {
  for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &previous_actions[i], nullptr);
  installed.store(0);
}

UnfinishedFile::UnfinishedFile(const std::string& final_path)
    : path_(detail::unfinished_name_beside(final_path)),
      slot_(detail::register_unfinished(path_)) {}

UnfinishedFile::~UnfinishedFile() {
  if (!published_) ::unlink(path_.c_str());
  detail::unregister_unfinished(slot_);
}

void UnfinishedFile::publish(const std::string& final_path,
                             const std::vector<ErrorContext>& context) {
  detail::mark_publishing(slot_);
  detail::publish_file(path_, final_path, context);
  published_ = true;
}

std::vector<std::string> remove_abandoned_files(const std::string& folder) {
  namespace fs = std::filesystem;
  std::vector<std::string> removed;
  std::error_code ec;
  fs::directory_iterator it(folder.empty() ? "." : folder, ec);
  if (ec) return removed;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    long pid = 0;
    std::string host;
    if (!detail::parse_unfinished_name(name, pid, host) || host != detail::host_hash()) continue;
    // kill(pid, 0) fails with ESRCH only when no such process exists (EPERM: alive, not ours).
    if (pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    struct stat st {};
    const std::string path = it->path().string();
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
      continue;
    }
    if (::unlink(path.c_str()) == 0) removed.push_back(path);
  }
  return removed;
}

}  // namespace strata::io
