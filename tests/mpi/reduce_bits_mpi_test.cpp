// SPDX-License-Identifier: Apache-2.0
// Bit reproducibility of reductions under mpiexec: every rank reduces the same values with the
// same chunking, again and again, while the ranks oversubscribe the machine, vary their thread
// counts, hold their values at different addresses, make chunks stall and force the executor's
// fallback (the caller running the work when no worker comes) — and every rank and repetition
// must give the same bits. STRATA_BITS_REPETITIONS sets the repetitions (default 4: the `mpi`
// label's cheap run); the `soak` label runs hundreds.
#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <strata/strata.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/mpi_test_main.hpp"

namespace {

strata::Runtime* the_runtime = nullptr;
strata::Runtime& rt() { return *the_runtime; }
std::string the_dataset;  // a .strata file of the values, written by rank 0

constexpr std::size_t kValues = std::size_t{1} << 18;       // 2 MiB of f64, 1 MiB of f32
constexpr std::size_t kChunkBytes = std::size_t{32} << 10;  // 64 chunks of f64, 32 of f32
constexpr double kLow = -1e4, kHigh = 1e4;
constexpr std::size_t kBins = 64;

int repetitions() {
  const char* text = std::getenv("STRATA_BITS_REPETITIONS");
  return text != nullptr && *text != '\0' ? std::max(1, std::atoi(text)) : 4;
}

// Magnitudes over 16 decades with random signs: a sum or second moment of these rounds
// differently in almost any other order, so equal bits mean an equal order of operations.
const std::vector<double>& values() {
  static const std::vector<double> v = [] {
    std::mt19937_64 rng(20261207);
    std::uniform_real_distribution<double> exponent(-8.0, 8.0);
    std::vector<double> out(kValues);
    for (double& x : out) x = ((rng() & 1) ? 1.0 : -1.0) * std::pow(10.0, exponent(rng));
    return out;
  }();
  return v;
}

template <class T>
std::vector<std::byte> bytes_of(const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  std::vector<std::byte> b(sizeof(T));
  std::memcpy(b.data(), &v, sizeof(T));
  return b;
}

// What a reduction gave, as bytes: a Stats' whole image (it has no padding), a histogram's
// serialized counts.
std::vector<std::byte> bytes_of_result(const strata::kernels::Stats& s) { return bytes_of(s); }
std::vector<std::byte> bytes_of_result(const strata::kernels::Histogram& h) {
  return h.serialize();
}
template <class A, class B>
std::vector<std::byte> bytes_of_result(const strata::Combined<A, B>& c) {
  auto out = bytes_of_result(c.template get<0>());
  const auto more = bytes_of_result(c.template get<1>());
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

// How a repetition disturbs the reductions.
enum class Disturbance {
  none,
  stalled_chunk,    // one chunk's add() sleeps 30 ms: the others are stolen around it
  busy_rank,        // a thread of this rank spins meanwhile (on top of the oversubscription)
  worker_fallback,  // the only worker is stuck elsewhere: after a second the caller runs the work
};
constexpr Disturbance kDisturbances[] = {Disturbance::none, Disturbance::stalled_chunk,
                                         Disturbance::busy_rank, Disturbance::worker_fallback};

const char* name_of(Disturbance d) {
  switch (d) {
    case Disturbance::none:
      return "none";
    case Disturbance::stalled_chunk:
      return "stalled chunk";
    case Disturbance::busy_rank:
      return "busy rank";
    case Disturbance::worker_fallback:
      return "worker fallback";
  }
  return "?";
}

// The chunk whose add() stalls (its first value's address), and the threads that ran add()s.
std::atomic<const void*> stalled_chunk{nullptr};
std::mutex threads_mutex;
std::vector<std::thread::id> add_threads;

// An accumulator around A that stalls on the chosen chunk and notes the thread of every add().
template <class A>
struct Observed {
  A inner;
  template <class T>
  void add(std::span<const T> v) {
    if (!v.empty() && v.data() == stalled_chunk.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    {
      std::lock_guard lock(threads_mutex);
      add_threads.push_back(std::this_thread::get_id());
    }
    inner.add(v);
  }
  void merge(const Observed& other) { inner.merge(other.inner); }
};

// One reduction of the same values: a name, and how to run it on an executor in a repetition.
struct Case {
  std::string name;
  std::function<std::vector<std::byte>(strata::Executor&, int rep)> run;
};

// Copies the values (as T) into fresh memory `shift` elements past an allocation's start: where
// a rank's heap puts its data is not up to it, and the bits must not depend on it.
template <class T>
std::span<const T> shifted_copy(std::vector<T>& storage, std::size_t shift) {
  storage.assign(kValues + 16, T{});
  std::copy(values().begin(), values().end(), storage.begin() + static_cast<std::ptrdiff_t>(shift));
  return std::span<const T>(storage.data() + shift, kValues);
}

template <class A, class T>
std::vector<std::byte> reduce_observed(strata::Executor& ex, std::span<const T> data, A init,
                                       Disturbance d) {
  // The first value of a chunk a third of the way in.
  const std::size_t chunk = kChunkBytes / sizeof(T);
  stalled_chunk =
      d == Disturbance::stalled_chunk ? data.data() + data.size() / 3 / chunk * chunk : nullptr;
  return bytes_of_result(strata::reduce(ex, data, Observed<A>{std::move(init)}).inner);
}

std::vector<Case> cases(Disturbance d) {
  using strata::kernels::Histogram;
  using strata::kernels::Stats;
  return {
      {"f64 Stats, heap copy",
       [d](strata::Executor& ex, int) {
         std::vector<double> v(values());  // wherever malloc puts it
         return reduce_observed(ex, std::span<const double>(v), Stats{}, d);
       }},
      {"f64 Stats, shifted copy",
       [d](strata::Executor& ex, int rep) {
         std::vector<double> storage;
         const auto v = shifted_copy(storage, static_cast<std::size_t>(rt().rank() + rep) % 8);
         return reduce_observed(ex, v, Stats{}, d);
       }},
      {"f32 Stats, shifted copy",
       [d](strata::Executor& ex, int rep) {
         std::vector<float> storage;
         const auto v = shifted_copy(storage, static_cast<std::size_t>(rt().rank() + 3 * rep) % 8);
         return reduce_observed(ex, v, Stats{}, d);
       }},
      {"f64 Histogram, shifted copy",
       [d](strata::Executor& ex, int rep) {
         std::vector<double> storage;
         const auto v = shifted_copy(storage, static_cast<std::size_t>(rt().rank() + rep) % 8);
         return reduce_observed(ex, v, Histogram(kLow, kHigh, kBins), d);
       }},
      {"f64 Stats+Histogram, dataset (strata stats)",
       [](strata::Executor& ex, int) {
         // The path of `strata stats`: a mapped partition, verified chunk by chunk in the pass.
         const auto ds = strata::io::Dataset::open(the_dataset + ":values");
         const auto part = ds.partition(0, 1);
         stalled_chunk = nullptr;
         using Both = strata::Combined<Stats, Histogram>;
         return bytes_of_result(
             strata::reduce<double>(
                 ex, part, Observed<Both>{strata::combine(Stats{}, Histogram(kLow, kHigh, kBins))})
                 .inner);
       }},
  };
}

// Spins until told to stop: load on this rank while its reductions run.
class BusyThread {
 public:
  BusyThread()
      : thread_([this] {
          volatile double x = 1.0;
          while (!stop_.load(std::memory_order_relaxed)) x = x * 1.0000001 + 1e-9;
        }) {}
  ~BusyThread() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Leaves oneTBB one worker for the process and keeps it busy in another arena until destroyed,
// so no worker begins an executor's work: after a second of that the executor's caller stops
// waiting and runs the chunks itself. (Capping oneTBB at no worker at all does not do it: for
// enqueued work oneTBB then grants one worker anyway.)
class WorkerHeldElsewhere {
 public:
  WorkerHeldElsewhere() {
    arena_.enqueue(group_.defer([this] {
      held_ = true;
      while (!release_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }));
    while (!held_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~WorkerHeldElsewhere() {
    release_ = true;
    arena_.execute([this] { group_.wait(); });
  }

 private:
  oneapi::tbb::global_control one_worker_{oneapi::tbb::global_control::max_allowed_parallelism, 2};
  oneapi::tbb::task_arena arena_{1, 0};
  oneapi::tbb::task_group group_;
  std::atomic<bool> held_{false}, release_{false};
};

struct Tally {
  std::uint64_t reductions = 0;
  std::uint64_t differ_across_ranks = 0;        // some rank's bits differ from rank 0's, same rep
  std::uint64_t differ_across_repetitions = 0;  // rank 0's bits differ from its first rep's
};

// Proves every rank and every repetition reduces the same values to the same bits — Stats over
// f64 and f32 and a histogram, from heap memory at any address and from a mapped dataset — with
// 1 to 4 threads per rank on an oversubscribed machine, a stalling chunk, a busy rank and the
// caller's fallback when no worker starts (checked: every chunk then ran on the caller). Fails
// if a kernel's, the chunk tree's or the executor's order depends on anything but the data.
TEST(ReduceBitsMpi, SameBitsOnEveryRankThreadCountAndRepetition) {
  const int reps = repetitions();
  const std::size_t case_count = cases(Disturbance::none).size();
  std::vector<Tally> tally(case_count);
  std::vector<std::vector<std::byte>> first(case_count);
  std::uint64_t fallback_runs = 0;
  for (int rep = 0; rep < reps; ++rep) {
    const Disturbance d = kDisturbances[rep % 4];
    const unsigned threads = 1 + static_cast<unsigned>(rep + rt().rank()) % 4;
    // Ranks start at different times, so some reduce while others are busy.
    std::this_thread::sleep_for(std::chrono::milliseconds(5 * ((rt().rank() + rep) % 4)));
    const auto all = cases(d);
    for (std::size_t c = 0; c < case_count; ++c) {
      SCOPED_TRACE(all[c].name + ", repetition " + std::to_string(rep) + ", " + name_of(d) + ", " +
                   std::to_string(threads) + " threads");
      std::vector<std::byte> mine;
      {
        // The fallback costs a second per reduction: one case per such repetition takes it. The
        // worker is held before the executor exists, so none of its arenas ever gets one.
        const bool fallback = d == Disturbance::worker_fallback && c == (rep / 4) % case_count;
        std::optional<WorkerHeldElsewhere> held;
        if (fallback) held.emplace();
        std::optional<BusyThread> busy;
        if (d == Disturbance::busy_rank) busy.emplace();
        strata::Executor ex(rt(), {.threads = threads, .chunk_bytes = kChunkBytes});
        {
          std::lock_guard lock(threads_mutex);
          add_threads.clear();
        }
        mine = all[c].run(ex, rep);
        if (fallback) {
          ++fallback_runs;
          std::lock_guard lock(threads_mutex);
          const auto me = std::this_thread::get_id();
          EXPECT_FALSE(add_threads.empty());
          EXPECT_TRUE(std::all_of(add_threads.begin(), add_threads.end(), [&](std::thread::id id) {
            return id == me;
          })) << "a worker ran although none may start";
        }
      }
      const auto gathered = rt().mpi().allgather_bytes(mine);
      ++tally[c].reductions;
      bool ranks_agree = true;
      for (const auto& other : gathered) ranks_agree = ranks_agree && other == gathered[0];
      if (!ranks_agree) ++tally[c].differ_across_ranks;
      if (rep == 0) first[c] = gathered[0];
      if (gathered[0] != first[c]) ++tally[c].differ_across_repetitions;
      EXPECT_TRUE(ranks_agree) << "ranks disagree";
      EXPECT_EQ(gathered[0], first[c]) << "rank 0 disagrees with its first repetition";
    }
  }
  EXPECT_EQ(rt().mpi().allreduce_sum(static_cast<std::int64_t>(fallback_runs)),
            static_cast<std::int64_t>(rt().size()) * (reps / 4));
  // One SIMD target on every rank: the lanes' order is the target's (the same machine here).
  const std::string target = strata::kernels::simd_targets().dispatched;
  const auto targets = rt().mpi().allgather_bytes(std::as_bytes(std::span(target)));
  for (const auto& t : targets) EXPECT_EQ(t, targets[0]) << "ranks dispatch different targets";
  if (rt().rank() == 0) {
    std::printf("%d ranks x %d repetitions (threads 1-4 per rank, chunks of %zu KiB, %s)\n",
                rt().size(), reps, kChunkBytes >> 10, target.c_str());
    std::printf("%-44s %10s %14s %14s\n", "case", "reductions", "ranks differ", "reps differ");
    const auto all = cases(Disturbance::none);
    for (std::size_t c = 0; c < case_count; ++c) {
      std::printf("%-44s %10llu %14llu %14llu\n", all[c].name.c_str(),
                  static_cast<unsigned long long>(tally[c].reductions * rt().size()),
                  static_cast<unsigned long long>(tally[c].differ_across_ranks),
                  static_cast<unsigned long long>(tally[c].differ_across_repetitions));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  strata::Runtime runtime(argc, argv, {.install_stop_signals = false});
  the_runtime = &runtime;
  the_dataset = (std::filesystem::temp_directory_path() /
                 ("strata-reduce-bits-" +
                  std::to_string(runtime.mpi().allreduce_max(std::int64_t{getpid()})) + ".strata"))
                    .string();
  if (runtime.rank() == 0) {
    strata::io::StrataWriter w(the_dataset,
                               {{"values", strata::DType::f64, {kValues}, kChunkBytes}});
    w.append(0, std::as_bytes(std::span(values())));
    w.finish();
  }
  runtime.mpi().barrier();
  const int failed = strata::test::run_all_tests_on_every_rank(runtime);
  if (runtime.rank() == 0) std::filesystem::remove(the_dataset);
  return failed;
}
