// SPDX-License-Identifier: Apache-2.0
// The drain of a node-local checkpoint to the shared folder yields to the simulation: while it is
// in flight its thread ("strata-drain") runs at nice 19 and best-effort I/O level 7, and when
// finish_drain() waits for it, it returns to the priority it started with and completes; it holds
// to its pace (drain_bytes_per_second) until finish_drain() or a stop signal hurries it.
#include <gtest/gtest.h>
#include <linux/ioprio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/scratch_folder.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The id of this process's thread called `name`, or 0.
pid_t thread_named(const std::string& name) {
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string text;
    if (std::getline(comm, text) && text == name) return std::stoi(task.path().filename());
  }
  return 0;
}

// The nice value of this process's thread `tid` (field 19 of its stat), or -100 once it ended.
int nice_of(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return -100;
  std::istringstream fields(text.substr(text.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  for (int i = 3; i <= 19 && fields >> field; ++i) {
  }
  return fields ? std::stoi(field) : -100;
}

int io_priority(pid_t tid) {
  return static_cast<int>(::syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, static_cast<int>(tid)));
}

// Threads of normal priority spinning on every CPU, as a simulation computing: a nice 19 drain
// then makes slow headway, so it is still in flight when the test looks at it.
class BusyCpus {
 public:
  BusyCpus() {
    for (unsigned i = 0; i < std::max(1u, std::thread::hardware_concurrency()); ++i) {
      threads_.emplace_back([this] {
        while (!stop_.load(std::memory_order_relaxed)) {
        }
      });
    }
  }
  ~BusyCpus() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

class DrainPriorityTest : public strata::test::ScratchFolderTest {
 protected:
  DrainPriorityTest() : ScratchFolderTest("strata-drain-priority") {}

  strata::Runtime rt_{strata::RuntimeOptions{.install_stop_signals = false}};
  strata::Executor ex_{rt_, {.threads = 2}};
};

// Seen while the drain is in flight: nice 19 and I/O best effort 7; seen once finish_drain()
// waits: the nice value and I/O priority the saving thread has, and the step committed in the
// shared folder. Would fail if the drain ran at the simulation's priority (or the old nice 10),
// or stayed low while someone waits for it.
TEST_F(DrainPriorityTest, LowWhileInFlightBackToNormalWhenFinishDrainWaits) {
  const std::size_t cols = 1024;
  const std::size_t rows = 8192;  // 64 MiB of doubles
  std::vector<double> field(rows * cols);
  for (std::size_t i = 0; i < field.size(); ++i) field[i] = static_cast<double>(i % 977);
  strata::io::CheckpointOptions o;
  o.dir = path("shared");
  o.local_dir = path("local");
  o.codec = strata::io::no_compression();
  o.incremental = false;
  strata::io::Checkpointer ck(rt_, ex_, o);
  ck.protect("u", std::span(field), {.global_shape = {rows, cols}, .first_row = 0});
  const auto me = static_cast<pid_t>(::syscall(SYS_gettid));
  const int normal_nice = nice_of(me);
  const int normal_io = io_priority(me);

  BusyCpus busy;
  ck.save(1);
  ck.wait();  // committed locally: the drain thread now runs
  pid_t tid = 0;
  int nice = -100;
  int io = -1;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  // The drain thread lowers its nice value, then its I/O priority: wait until both are seen.
  while (Clock::now() < deadline &&
         ck.drain_status().state == strata::io::SaveState::in_flight) {
    tid = thread_named("strata-drain");
    if (tid != 0) {
      nice = nice_of(tid);
      io = io_priority(tid);
      if (nice == 19 && io == IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 7)) break;
    }
  }
  ASSERT_NE(tid, 0) << "no drain thread seen while the drain was in flight";
  ASSERT_EQ(nice, 19) << "the drain thread was not at nice 19 while in flight";
  EXPECT_EQ(io, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 7));

  // finish_drain() on another thread; this one watches the drain thread until it is back.
  std::atomic<bool> finished{false};
  strata::io::DrainStatus drained;
  std::thread waiter([&] {
    drained = ck.finish_drain();
    finished = true;
  });
  int hurried_nice = 19;
  int hurried_io = io;
  while (!finished) {
    const int n = nice_of(tid);
    if (n == -100) break;  // the thread ended before it was seen
    if (n != 19) {
      hurried_nice = n;
      hurried_io = io_priority(tid);  // restored before the nice value
      break;
    }
  }
  waiter.join();
  EXPECT_EQ(hurried_nice, normal_nice) << "the drain stayed at nice 19 while finish_drain() waited";
  EXPECT_EQ(hurried_io, normal_io);
  EXPECT_EQ(drained.state, strata::io::SaveState::committed);
  EXPECT_TRUE(fs::exists(fs::path(o.dir) / "step-00000001" / "manifest.json"));
}

}  // namespace

// A drain with a pace, in a folder of its own (the fixture's); `stop_signals` installs the stop
// signal handlers so a test can raise SIGUSR1.
class DrainPaceTest : public strata::test::ScratchFolderTest {
 protected:
  DrainPaceTest() : ScratchFolderTest("strata-drain-pace") {}

  // Just under 16 MiB of doubles: two pieces of the drain's copy.
  static constexpr std::size_t kCols = 1024;
  static constexpr std::size_t kRows = 2040;  // the shard with its header and index still fits

  strata::io::CheckpointOptions options(double bytes_per_second) const {
    strata::io::CheckpointOptions o;
    o.dir = path("shared");
    o.local_dir = path("local");
    o.codec = strata::io::no_compression();
    o.incremental = false;
    o.drain_bytes_per_second = bytes_per_second;
    return o;
  }
  // Saves step 1 of a 16 MiB field; returns once it is committed locally and its drain started.
  void save_one(strata::io::Checkpointer& ck) {
    field_.assign(kRows * kCols, 0.0);
    for (std::size_t i = 0; i < field_.size(); ++i) field_[i] = static_cast<double>(i % 977);
    ck.protect("u", std::span(field_), {.global_shape = {kRows, kCols}, .first_row = 0});
    ck.save(1);
    ck.wait();
  }

  strata::Runtime rt_{strata::RuntimeOptions{.install_stop_signals = true}};
  strata::Executor ex_{rt_, {.threads = 2}};
  std::vector<double> field_;
};

// Left alone, a drain of 16 MiB (two 8 MiB pieces) at 8 MiB/s starts its second piece no sooner
// than 1 s after its first, and reports the pause. Would fail if drain_bytes_per_second were
// ignored (the copy itself takes a few hundredths of a second here).
TEST_F(DrainPaceTest, HoldsToItsPaceWhileNobodyWaits) {
  strata::io::Checkpointer ck(rt_, ex_, options(8.0 * 1024 * 1024));
  save_one(ck);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (ck.drain_status().state == strata::io::SaveState::in_flight && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const strata::io::DrainStatus st = ck.drain_status();
  ASSERT_EQ(st.state, strata::io::SaveState::committed) << st.error;
  EXPECT_GE(st.drain_seconds, 1.0) << "the second piece started before its time";
  EXPECT_GT(st.paced_seconds, 0.0);
  EXPECT_LE(st.paced_seconds, st.drain_seconds);
}

// finish_drain() ends the pause at once: at 1 MiB/s the second piece of the 16 MiB shard would
// wait 8 s; waited for, the drain commits well before that with no pause counted. Would fail if
// the pace still held a drain that someone waits for.
TEST_F(DrainPaceTest, FinishDrainEndsThePace) {
  strata::io::Checkpointer ck(rt_, ex_, options(1.0 * 1024 * 1024));
  save_one(ck);
  const strata::io::DrainStatus st = ck.finish_drain();
  ASSERT_EQ(st.state, strata::io::SaveState::committed) << st.error;
  EXPECT_LT(st.drain_seconds, 8.0) << "the drain kept its pace while finish_drain() waited";
  EXPECT_TRUE(fs::exists(fs::path(path("shared")) / "step-00000001" / "manifest.json"));
}

// A stop signal ends the pause too, with nobody waiting yet: the drain then commits long before
// its pace would let it. Would fail if only finish_drain() ended the pace (the drain would still
// be in flight when the test looks, 8 s of pause ahead of it).
TEST_F(DrainPaceTest, StopSignalEndsThePace) {
  strata::io::Checkpointer ck(rt_, ex_, options(1.0 * 1024 * 1024));
  save_one(ck);
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  ASSERT_TRUE(rt_.stop_requested());
  const auto deadline = Clock::now() + std::chrono::seconds(6);
  while (ck.drain_status().state == strata::io::SaveState::in_flight && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(ck.drain_status().state, strata::io::SaveState::committed)
      << "still pacing 6 s after the stop signal";
}

// A negative or NaN pace is refused before anything is written.
TEST_F(DrainPaceTest, NegativePaceIsRefused) {
  for (double pace : {-1.0, std::nan("")}) {
    EXPECT_THROW(strata::io::Checkpointer(rt_, ex_, options(pace)), strata::Error) << pace;
  }
  EXPECT_FALSE(fs::exists(path("local")));
}
