// SPDX-License-Identifier: Apache-2.0
// strata_bench_checkpoint_levels: multi-level checkpoints against writing the same bytes straight
// to the shared folder with write()+fdatasync (the baseline), in one MPI run: for each level
// (shared only, local, local + partner) the time save() holds the caller, the time until the step
// is committed at its fastest level, and the time until it is safe in the shared folder; and how
// much a drain in flight slows a concurrently computing 5-point stencil (steps per second with and
// without one). Times are the slowest rank's, medians over --repeats. Run on 2 "nodes" x 2 ranks:
//
//   mpirun -np 2 env STRATA_NODE_NAME=a strata_bench_checkpoint_levels --shared S --local L :
//          -np 2 env STRATA_NODE_NAME=b strata_bench_checkpoint_levels --shared S --local L
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "strata/io/checkpoint/checkpoint.hpp"
#include "strata/kernels/stencil.hpp"
#include "strata/runtime/cluster/runtime.hpp"
#include "strata/scheduler/executor.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The baseline: this rank's bytes written with write() and fdatasync()ed, then the folder fsynced.
void write_fdatasync(const std::string& folder, int rank, std::span<const std::byte> bytes) {
  const std::string path = folder + "/rank-" + std::to_string(rank) + ".bin";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, std::min<std::size_t>(bytes.size() - done, 1 << 30));
    if (n <= 0) throw std::runtime_error("write failed: " + path);
    done += static_cast<std::size_t>(n);
  }
  ::fdatasync(fd);
  ::close(fd);
  const int dfd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ::fsync(dfd);
  ::close(dfd);
}

struct Times {
  std::vector<double> block, committed, safe;
};

}  // namespace

int main(int argc, char** argv) {
  strata::Runtime rt(argc, argv, {.install_stop_signals = false});
  std::string shared = "levels-bench/shared";
  std::string local = "/dev/shm/levels-bench";
  std::size_t mib = 256;
  int repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--shared") shared = argv[i + 1];
    if (a == "--local") local = argv[i + 1];
    if (a == "--mib-per-rank") mib = std::strtoul(argv[i + 1], nullptr, 10);
    if (a == "--repeats") repeats = std::atoi(argv[i + 1]);
  }
  strata::Executor ex(rt);
  const std::size_t nx = 1024;
  const std::size_t rows = (mib << 20) / (nx * sizeof(double));
  std::vector<double> u((rows + 2) * nx), v((rows + 2) * nx);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = std::sin(static_cast<double>(i) * 1e-5);
  v = u;
  const std::span<const std::byte> bytes = std::as_bytes(std::span(u).subspan(nx, rows * nx));
  auto slowest = [&](double s) { return rt.mpi().allreduce_max(s); };
  auto say = [&](const char* text) {
    if (rt.rank() == 0) std::printf("%s", text);
  };

  // Baseline: straight to the shared folder.
  const std::string base = shared + "/baseline";
  if (rt.rank() == 0) fs::create_directories(base);
  rt.mpi().barrier();
  std::vector<double> baseline;
  for (int r = 0; r < repeats; ++r) {
    rt.mpi().barrier();
    const auto t = Clock::now();
    write_fdatasync(base, rt.rank(), bytes);
    baseline.push_back(slowest(seconds_since(t)));
  }
  const double base_s = median(baseline);

  struct Config {
    const char* name;
    bool local;
    bool partner;
  };
  std::vector<Config> configs{{"shared only", false, false}, {"local", true, false}};
  if (std::getenv("STRATA_NODE_NAME") != nullptr || rt.mpi().node_count() > 1) {
    configs.push_back({"local + partner", true, true});
  }
  char line[512];
  std::snprintf(line, sizeof line,
                "%d ranks, %zu MiB per rank, raw (no compression); baseline write+fdatasync to "
                "%s: %.3f s\n%-16s %10s %10s %10s %12s %12s\n",
                rt.size(), mib, shared.c_str(), base_s, "level", "save() s", "commit s", "safe s",
                "commit/base", "safe/base");
  say(line);
  for (const Config& c : configs) {
    strata::io::CheckpointOptions o;
    o.dir = shared + "/" + (c.local ? (c.partner ? "partner" : "local") : "shared");
    if (c.local) o.local_dir = local + "/" + (c.partner ? "partner" : "local");
    o.partner = c.partner;
    o.codec = strata::io::no_compression();
    o.incremental = false;  // every save writes every byte, as the baseline and the local levels
    o.keep = 1;
    Times t;
    {
      strata::io::Checkpointer ck(rt, ex, o);
      ck.protect("u", std::span(u).subspan(nx, rows * nx),
                 strata::io::GlobalBlock{.global_shape = {rows * static_cast<std::size_t>(rt.size()), nx},
                                         .first_row = rows * static_cast<std::size_t>(rt.rank())});
      for (int r = 0; r < repeats; ++r) {
        rt.mpi().barrier();
        const auto start = Clock::now();
        ck.save(r + 1);
        t.block.push_back(slowest(seconds_since(start)));
        ck.wait();
        t.committed.push_back(slowest(seconds_since(start)));
        ck.finish_drain();
        t.safe.push_back(slowest(seconds_since(start)));
      }
    }
    std::snprintf(line, sizeof line, "%-16s %10.3f %10.3f %10.3f %12.2f %12.2f\n", c.name,
                  median(t.block), median(t.committed), median(t.safe),
                  median(t.committed) / base_s, median(t.safe) / base_s);
    say(line);
  }

  // A drain in flight against a computing stencil: steps per second with and without.
  strata::io::CheckpointOptions o;
  o.dir = shared + "/drain";
  o.local_dir = local + "/drain";
  o.codec = strata::io::no_compression();
  o.keep = 1;
  strata::io::Checkpointer ck(rt, ex, o);
  ck.protect("u", std::span(u).subspan(nx, rows * nx),
             strata::io::GlobalBlock{.global_shape = {rows * static_cast<std::size_t>(rt.size()), nx},
                                     .first_row = rows * static_cast<std::size_t>(rt.rank())});
  const std::size_t stencil_rows = std::min<std::size_t>(rows, 4096);  // a step of a few ms
  auto step = [&] {
    strata::kernels::stencil5(std::span<const double>(v), std::span(u), nx, 1, stencil_rows, 0.2);
  };
  std::vector<double> quiet, busy;
  for (int r = 0; r < repeats; ++r) {
    rt.mpi().barrier();
    auto t0 = Clock::now();
    long n = 0;
    while (seconds_since(t0) < 1.0) {
      step();
      ++n;
    }
    quiet.push_back(static_cast<double>(n) / seconds_since(t0));
    ck.save(100 + r);
    ck.wait();  // committed locally; the drain now runs in the background
    t0 = Clock::now();
    n = 0;
    while (ck.drain_status().state == strata::io::SaveState::in_flight) {
      step();
      ++n;
    }
    const double s = seconds_since(t0);
    busy.push_back(s > 0 && n > 0 ? static_cast<double>(n) / s : quiet.back());
    ck.finish_drain();
  }
  const double q = rt.mpi().allreduce_sum(median(quiet)) / rt.size();
  const double b = rt.mpi().allreduce_sum(median(busy)) / rt.size();
  std::snprintf(line, sizeof line,
                "stencil steps/s per rank: %.1f without a drain, %.1f with one in flight "
                "(%.0f %% slower)\n",
                q, b, 100.0 * (1.0 - b / q));
  say(line);
  return 0;
}
