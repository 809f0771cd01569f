// SPDX-License-Identifier: Apache-2.0
// The SIGBUS handler behind guard_mapped_read: a thread-local stack of guarded ranges, one
// sigaction installed once for the process that jumps back into the innermost guard covering the
// fault, and a registry of mapped files so the error can name the file that was truncated.
#include "strata/runtime/files/mapped_read_guard.hpp"

#include <pthread.h>
#include <signal.h>

#include <cstdint>
#include <map>
#include <mutex>

#include "strata/runtime/base/error.hpp"

namespace strata {
namespace {

// Static TLS (the library is loaded at start-up), so the handler reads it without allocating.
[[gnu::tls_model("initial-exec")]] constinit thread_local detail::MappedReadFrame* innermost =
    nullptr;

struct sigaction previous_action {};

void on_sigbus(int signal, siginfo_t* info, void* context) {
  const auto* address = static_cast<const std::byte*>(info->si_addr);
  for (detail::MappedReadFrame* f = innermost; f != nullptr; f = f->outer) {
    if (info->si_code > 0 && address >= f->begin && address < f->end) {
      f->fault_address = address;
      innermost = f->outer;  // the frames inside it are abandoned by the jump
      siglongjmp(f->jump, 1);
    }
  }
  // Not ours: behave as if this handler were not there.
  if (previous_action.sa_flags & SA_SIGINFO) {
    previous_action.sa_sigaction(signal, info, context);
    return;
  }
  if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(signal);
    return;
  }
  // Default action: restore it and raise again, so the process dies of SIGBUS as before (SA_NODEFER
  // keeps the signal unblocked here, so the raise is delivered at once).
  sigaction(SIGBUS, &previous_action, nullptr);
  raise(SIGBUS);
}

struct MappedRange {
  std::size_t bytes;
  std::string path;
};

std::mutex registry_mutex;
std::map<std::uintptr_t, MappedRange>& registry() {
  static std::map<std::uintptr_t, MappedRange> ranges;
  return ranges;
}

}  // namespace

void install_mapped_read_handler() {
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    sigemptyset(&action.sa_mask);
    // SA_NODEFER: the jump out of the handler leaves no blocked SIGBUS behind; SA_ONSTACK: a fault
    // on a thread with an alternate stack (a sanitizer's) runs there.
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    if (sigaction(SIGBUS, &action, &previous_action) != 0) {
      throw_system_error("cannot install the SIGBUS handler", errno);
    }
    return true;
  }();
  (void)installed;
}

namespace detail {

MappedReadFrame::MappedReadFrame(std::span<const std::byte> range) noexcept
    : begin(range.data()), end(range.data() + range.size()), outer(innermost) {
  try {
    install_mapped_read_handler();
  } catch (...) {
    // Without the handler a fault is fatal, as it was before guards existed; never worse.
  }
  innermost = this;
}

MappedReadFrame::~MappedReadFrame() { innermost = outer; }

void throw_mapped_read_fault(const MappedReadFrame& frame) {
  sigset_t bus;
  sigemptyset(&bus);
  sigaddset(&bus, SIGBUS);
  pthread_sigmask(SIG_UNBLOCK, &bus, nullptr);
  const auto address = reinterpret_cast<std::uintptr_t>(frame.fault_address);
  std::vector<ErrorContext> context;
  {
    std::lock_guard lock(registry_mutex);
    auto& ranges = registry();
    if (auto it = ranges.upper_bound(address); it != ranges.begin()) {
      --it;
      if (address - it->first < it->second.bytes) {
        context.push_back({"file", it->second.path});
        context.push_back({"offset", std::to_string(address - it->first)});
      }
    }
  }
  throw Error(ErrorCategory::corrupt_data, "file was truncated while it was being read",
              std::move(context));
}

}  // namespace detail

void register_mapped_file(const void* begin, std::size_t bytes, const std::string& path) {
  std::lock_guard lock(registry_mutex);
  registry()[reinterpret_cast<std::uintptr_t>(begin)] = {bytes, path};
}

void unregister_mapped_file(const void* begin) noexcept {
  std::lock_guard lock(registry_mutex);
  registry().erase(reinterpret_cast<std::uintptr_t>(begin));
}

}  // namespace strata
