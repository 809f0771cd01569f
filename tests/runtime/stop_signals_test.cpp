// SPDX-License-Identifier: Apache-2.0
// Tests for StopSignals: real SIGUSR1/SIGTERM deliveries (from this process and from another one)
// set the flag, the first signal wins, the previous dispositions come back, and only one lives.
#include "strata/runtime/cluster/stop_signals.hpp"

#include <gtest/gtest.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <thread>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::StopSignals;

// A signal sent to the process may be handled by any thread that does not block it, so wait for
// the handler to have run instead of assuming it ran before kill() returned.
bool wait_for_stop(const StopSignals& stop) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!stop.stop_requested()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

using signal_handler = void (*)(int);

signal_handler current_handler(int signal_number) {
  struct sigaction current {};
  EXPECT_EQ(sigaction(signal_number, nullptr, &current), 0);
  return current.sa_handler;
}

void test_handler(int) {}

// raise(SIGUSR1) sets stop_requested() and records SIGUSR1, and the process survives it.
TEST(StopSignals, RaiseUsr1SetsFlag) {
  StopSignals stop;
  EXPECT_FALSE(stop.stop_requested());
  EXPECT_EQ(stop.stop_signal(), 0);
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  EXPECT_TRUE(stop.stop_requested());
  EXPECT_EQ(stop.stop_signal(), SIGUSR1);
}

// kill(getpid(), SIGTERM) sets the flag and records SIGTERM instead of terminating the process.
TEST(StopSignals, KillTermSetsFlag) {
  StopSignals stop;
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  ASSERT_TRUE(wait_for_stop(stop));
  EXPECT_EQ(stop.stop_signal(), SIGTERM);
}

// SIGUSR1 sent by another process (as slurmstepd or scancel would) reaches the handler.
TEST(StopSignals, Usr1FromAnotherProcessSetsFlag) {
  StopSignals stop;
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    _exit(kill(getppid(), SIGUSR1) == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "the child could not signal its parent";
  ASSERT_TRUE(wait_for_stop(stop));
  EXPECT_EQ(stop.stop_signal(), SIGUSR1);
}

// The first stop signal is kept when another follows; reset() clears it for the next one.
TEST(StopSignals, FirstSignalWins) {
  StopSignals stop;
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  ASSERT_EQ(std::raise(SIGTERM), 0);
  EXPECT_EQ(stop.stop_signal(), SIGUSR1);

  stop.reset();
  EXPECT_FALSE(stop.stop_requested());
  EXPECT_EQ(stop.stop_signal(), 0);
  ASSERT_EQ(std::raise(SIGTERM), 0);
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  EXPECT_EQ(stop.stop_signal(), SIGTERM);
}

// request_stop() behaves like a signal: it sets the flag and does not override an earlier stop.
TEST(StopSignals, RequestStopFromCode) {
  StopSignals stop;
  stop.request_stop();
  EXPECT_TRUE(stop.stop_requested());
  EXPECT_EQ(stop.stop_signal(), SIGTERM);
  stop.request_stop(SIGUSR1);
  EXPECT_EQ(stop.stop_signal(), SIGTERM);
}

// Installing replaces the previous handlers, and destruction puts them back exactly.
TEST(StopSignals, DestructorRestoresPreviousHandlers) {
  struct sigaction mine {};
  mine.sa_handler = &test_handler;
  sigemptyset(&mine.sa_mask);
  struct sigaction saved_usr1 {};
  ASSERT_EQ(sigaction(SIGUSR1, &mine, &saved_usr1), 0);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  struct sigaction saved_term {};
  ASSERT_EQ(sigaction(SIGTERM, &ignore, &saved_term), 0);

  {
    StopSignals stop;
    EXPECT_NE(current_handler(SIGUSR1), &test_handler);
    EXPECT_NE(current_handler(SIGTERM), SIG_IGN);
    EXPECT_EQ(current_handler(SIGUSR1), current_handler(SIGTERM));
  }
  EXPECT_EQ(current_handler(SIGUSR1), &test_handler);
  EXPECT_EQ(current_handler(SIGTERM), SIG_IGN);

  sigaction(SIGUSR1, &saved_usr1, nullptr);
  sigaction(SIGTERM, &saved_term, nullptr);
}

// A second live StopSignals throws invalid_argument and leaves the first one working; once the
// first is gone a new one can be made, and it starts without the old stop.
TEST(StopSignals, SecondInstanceThrows) {
  auto first = std::make_unique<StopSignals>();
  try {
    StopSignals second;
    ADD_FAILURE() << "a second StopSignals was constructed";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
  }
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  EXPECT_EQ(first->stop_signal(), SIGUSR1);
  first.reset();
  StopSignals third;
  EXPECT_FALSE(third.stop_requested());
}

}  // namespace
