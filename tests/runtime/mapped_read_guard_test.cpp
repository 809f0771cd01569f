// SPDX-License-Identifier: Apache-2.0
// Tests of guard_mapped_read: a read of a mapped file truncated under it becomes a strata::Error
// naming the file, in any thread and nested; a SIGBUS outside every guard still kills the process
// as it did, and a handler installed before strata's still sees the faults that are not strata's.
#include "strata/runtime/files/mapped_read_guard.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>
#include <vector>

#include "common/scratch_folder.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/files/mapped_file.hpp"

namespace {

namespace fs = std::filesystem;

// A per-test file of `bytes` bytes of 0x5a, removed afterwards.
class MappedReadGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = strata::test::scratch_path("strata-guard").string();
  }
  void TearDown() override { fs::remove(path_); }
  strata::MappedFile mapped(std::size_t bytes) {
    {
      std::ofstream out(path_, std::ios::binary | std::ios::trunc);
      std::vector<char> fill(bytes, 0x5a);
      out.write(fill.data(), static_cast<std::streamsize>(fill.size()));
    }
    return strata::MappedFile::open(path_);
  }
  // Sums bytes the way a kernel would, one load per page; volatile so that a sum whose result is
  // discarded is still read (the compiler would drop the loads otherwise).
  static std::uint64_t sum(std::span<const std::byte> bytes) {
    const volatile std::byte* p = bytes.data();
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < bytes.size(); i += 512) s += static_cast<std::uint8_t>(p[i]);
    return s;
  }
  std::string path_;
};

// Proves a guarded read of a mapping whose file was truncated after the view was taken throws
// Error(corrupt_data) naming the file and the offset of the fault, instead of dying of SIGBUS;
// and that the same guard returns the read's value when the file is whole.
TEST_F(MappedReadGuardTest, TruncatedMappingIsAnErrorNamingTheFile) {
  auto f = mapped(64 * 4096);
  auto view = f.bytes(0, f.size());
  EXPECT_EQ(strata::guard_mapped_read(view, [&] { return sum(view); }), 0x5au * 64 * 8);
  fs::resize_file(path_, 8 * 4096);
  try {
    (void)strata::guard_mapped_read(view, [&] { return sum(view); });
    FAIL() << "read past the truncated end returned";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data) << e.what();
    EXPECT_EQ(e.context_value("file"), path_) << e.what();
    EXPECT_EQ(e.context_value("offset"), std::to_string(8 * 4096)) << e.what();
  }
  // The thread is usable afterwards: SIGBUS is not left blocked, and a second fault is caught too.
  EXPECT_THROW((void)strata::guard_mapped_read(view.subspan(16 * 4096),
                                               [&] { return sum(view.subspan(16 * 4096)); }),
               strata::Error);
}

// Proves guards in many threads at once each catch their own fault, and an inner guard whose
// range does not hold the fault leaves it to the outer guard that does.
TEST_F(MappedReadGuardTest, ThreadsAndNestedGuards) {
  auto f = mapped(32 * 4096);
  auto view = f.bytes(0, f.size());
  fs::resize_file(path_, 4096);
  std::atomic<int> caught{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto tail = view.subspan((4 + t) * 4096);
      try {
        (void)strata::guard_mapped_read(tail, [&] { return sum(tail); });
      } catch (const strata::Error&) {
        caught.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(caught.load(), 4);

  std::vector<std::byte> heap(4096);
  EXPECT_THROW(strata::guard_mapped_read(view,
                                         [&] {
                                           // The inner guard covers only heap memory; the fault is in the outer range.
                                           return strata::guard_mapped_read(
                                               heap, [&] { return sum(heap) + sum(view); });
                                         }),
               strata::Error);
  EXPECT_EQ(strata::guard_mapped_read(heap, [&] { return sum(heap); }), 0u);  // guards popped
}

// Death by the fault: SIGBUS, or under AddressSanitizer (whose SIGBUS handler is the one strata
// chains to there) its exit after reporting the BUS.
bool killed_by_fault(int status) {
#if defined(__SANITIZE_ADDRESS__)
  constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  constexpr bool kAsan = true;
#else
  constexpr bool kAsan = false;
#endif
#else
  constexpr bool kAsan = false;
#endif
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS) return true;
  // AddressSanitizer reports the BUS, then aborts or exits 1 (its abort_on_error setting).
  return kAsan && ((WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) ||
                   (WIFEXITED(status) && WEXITSTATUS(status) == 1));
}

// Proves a SIGBUS outside every guard still kills the process with SIGBUS once the handler is
// installed: strata's handler does not swallow faults that are not its own.
TEST_F(MappedReadGuardTest, UnguardedFaultStillKills) {
  auto f = mapped(16 * 4096);
  auto view = f.bytes(0, f.size());
  strata::install_mapped_read_handler();
  fs::resize_file(path_, 0);
  EXPECT_EXIT((void)sum(view), killed_by_fault, "");
  // A fault in another range than the guarded one is not the guard's either.
  std::vector<std::byte> heap(64);
  EXPECT_EXIT((void)strata::guard_mapped_read(heap, [&] { return sum(view); }), killed_by_fault,
              "");
}

extern "C" void exit_42_on_sigbus(int) { _exit(42); }

// Proves a SIGBUS handler installed before strata's keeps receiving the faults outside guards
// (the handler chains), while guarded faults still become errors. Runs in a fresh process
// (threadsafe death test) so strata's handler is installed after the program's own.
TEST_F(MappedReadGuardTest, ChainsToTheHandlerInstalledBefore) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto f = mapped(16 * 4096);
  auto view = f.bytes(0, f.size());
  fs::resize_file(path_, 0);
  fs::remove(path_);  // the mapping stays; the re-executed child leaves no file behind either
  EXPECT_EXIT(
      {
        struct sigaction own {};
        own.sa_handler = exit_42_on_sigbus;
        sigaction(SIGBUS, &own, nullptr);
        strata::install_mapped_read_handler();
        bool guarded_error = false;
        try {
          (void)strata::guard_mapped_read(view, [&] { return sum(view); });
        } catch (const strata::Error&) {
          guarded_error = true;
        }
        if (!guarded_error) _exit(1);
        (void)sum(view);
        _exit(2);
      },
      ::testing::ExitedWithCode(42), "");
}

}  // namespace
