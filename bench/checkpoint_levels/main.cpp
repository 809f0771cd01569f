// SPDX-License-Identifier: Apache-2.0
// strata_bench_checkpoint_levels: multi-level checkpoints against writing the same bytes straight
// to the shared folder with write()+fdatasync (the baseline), in one MPI run: for each level
// (shared only, local, local + partner, local + an XOR group of the 2 nodes) the time save()
// holds the caller, the time until the step is committed at its fastest level, and the time
// until it is safe in the shared folder; a plain
// write() of the same bytes into the local folder (what a local commit can at best reach), and
// the same write after a SHA-256 of each 4 MiB chunk (the digest the shard format requires, on
// one core); and how much a drain in flight slows a concurrently computing 5-point stencil (steps
// per second with and without one; the drain at its default pace and unpaced, each followed by
// as long a window without it), next to a plain background copy of the same bytes from the
// local to the shared folder (read/write, then fdatasync, at nice 19 and idle I/O class: what
// `nice -n 19 ionice -c3 cp` does). Times are the slowest rank's; every case runs --repeats times, the cases of a
// repetition in a shuffled order (the same on every rank). Rank 0 prints a table and, with
// --out, writes Google Benchmark-shaped JSON for scripts/bench. Two simulated nodes, one rank
// each (scripts/bench runs it so):
//
//   mpirun -np 1 env STRATA_NODE_NAME=a strata_bench_checkpoint_levels --shared S --local L :
//          -np 1 env STRATA_NODE_NAME=b strata_bench_checkpoint_levels --shared S --local L
//
// Options: --out FILE (rank 0's JSON), --mib-per-rank N (256), --repeats N (3), --saves 0 (only
// the stencil against a drain), --stencil 0 (only the saves), --plain-copy 0 (the stencil without
// the plain copy case), --drain-mib-per-second X (the paced drain's pace; the library's default).
#include <fcntl.h>
#include <linux/ioprio.h>
#include <openssl/evp.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "strata/io/checkpoint/checkpoint.hpp"
#include "strata/kernels/stencil.hpp"
#include "strata/runtime/cluster/runtime.hpp"
#include "strata/scheduler/executor.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kBaseline = "shared_write_fdatasync";
constexpr const char* kQuiet = "stencil/no_drain";

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// This rank's bytes written with write() into folder/rank-R.bin, fdatasync()ed when `sync`, then
// the folder fsynced: the baseline (sync, shared folder) and the plain local write (no sync).
void write_plain(const std::string& folder, int rank, std::span<const std::byte> bytes, bool sync) {
  const std::string path = folder + "/rank-" + std::to_string(rank) + ".bin";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::write(fd, bytes.data() + done, std::min<std::size_t>(bytes.size() - done, 1 << 30));
    if (n <= 0) throw std::runtime_error("write failed: " + path);
    done += static_cast<std::size_t>(n);
  }
  if (sync) ::fdatasync(fd);
  ::close(fd);
  if (sync) {
    const int dfd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::fsync(dfd);
    ::close(dfd);
  }
}

// SHA-256 of each 4 MiB chunk of `bytes` (the shard format's frame digests), on this thread.
void sha256_chunks(std::span<const std::byte> bytes) {
  constexpr std::size_t kChunk = std::size_t{4} << 20;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  for (std::size_t at = 0; at < bytes.size(); at += kChunk) {
    const std::size_t n = std::min(kChunk, bytes.size() - at);
    if (EVP_Digest(bytes.data() + at, n, digest, &length, EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("SHA-256 failed");
    }
  }
}

// The plain background copy: `from` to `to` with read()/write() in 8 MiB pieces, then fdatasync,
// on a thread at nice 19 and in the idle I/O class, as `nice -n 19 ionice -c3 cp` + sync would.
void plain_low_priority_copy(const std::string& from, const std::string& to) {
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  (void)::setpriority(PRIO_PROCESS, tid, 19);
  (void)::syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, static_cast<int>(tid),
                  IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0));
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (in < 0 || out < 0) throw std::runtime_error("cannot copy " + from + " to " + to);
  std::vector<char> piece(std::size_t{8} << 20);
  for (;;) {
    const ssize_t n = ::read(in, piece.data(), piece.size());
    if (n <= 0) break;
    for (ssize_t done = 0; done < n;) {
      const ssize_t k = ::write(out, piece.data() + done, static_cast<std::size_t>(n - done));
      if (k <= 0) throw std::runtime_error("write failed: " + to);
      done += k;
    }
  }
  ::fdatasync(out);
  ::close(in);
  ::close(out);
}

// One repetition of one case, in Google Benchmark's JSON shape (as bench/user_path writes it).
struct Entry {
  std::string name, label;
  double seconds;
  double bytes_per_second;  // 0: none
  double items_per_second;  // 0: none
  int repetition;
};

void write_json(const std::string& out, const std::vector<Entry>& entries,
                const std::vector<std::string>& order, const std::string& context_extra) {
  const std::string partial = out + ".partial";
  std::FILE* f = std::fopen(partial.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("cannot write " + partial);
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", std::localtime(&now));
  std::string d = date;  // ISO 8601 wants +hh:mm
  if (d.size() > 2) d.insert(d.size() - 2, ":");
  char host[256] = "?";
  ::gethostname(host, sizeof host - 1);
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  std::fprintf(f,
               "{\"context\": {\"date\": \"%s\", \"host_name\": \"%s\", \"executable\": "
               "\"strata_bench_checkpoint_levels\", \"num_cpus\": %ld, \"load_avg\": [%.2f, %.2f, "
               "%.2f]%s},\n \"benchmarks\": [\n",
               d.c_str(), host, ::sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2],
               context_extra.c_str());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    const auto family = std::find(order.begin(), order.end(), e.name) - order.begin();
    std::fprintf(f,
                 "  {\"name\": \"%s\", \"run_name\": \"%s\", \"run_type\": \"iteration\", "
                 "\"family_index\": %ld, \"per_family_instance_index\": 0, \"repetition_index\": "
                 "%d, \"iterations\": 1, \"real_time\": %.0f, \"cpu_time\": %.0f, \"time_unit\": "
                 "\"ns\", \"label\": \"%s\"",
                 e.name.c_str(), e.name.c_str(), static_cast<long>(family), e.repetition,
                 e.seconds * 1e9, e.seconds * 1e9, e.label.c_str());
    if (e.bytes_per_second > 0) std::fprintf(f, ", \"bytes_per_second\": %.6g", e.bytes_per_second);
    if (e.items_per_second > 0) std::fprintf(f, ", \"items_per_second\": %.6g", e.items_per_second);
    std::fprintf(f, "}%s\n", i + 1 < entries.size() ? "," : "");
  }
  std::fprintf(f, " ]}\n");
  std::fclose(f);
  fs::rename(partial, out);
}

}  // namespace

int main(int argc, char** argv) {
  strata::Runtime rt(argc, argv, {.install_stop_signals = false});
  std::string shared = "levels-bench/shared";
  std::string local = "/dev/shm/levels-bench";
  std::string out;
  std::size_t mib = 256;
  int repeats = 3;
  bool stencil = true;  // --stencil 0: only the saves
  bool saves = true;    // --saves 0: only the stencil against a drain
  bool plain_copy = true;  // --plain-copy 0: the stencil without the plain copy case
  // --drain-mib-per-second: the paced drain's pace (the library's default when not given)
  double drain_pace = strata::io::kDefaultDrainBytesPerSecond;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--shared") shared = argv[i + 1];
    if (a == "--local") local = argv[i + 1];
    if (a == "--out") out = argv[i + 1];
    if (a == "--mib-per-rank") mib = std::strtoul(argv[i + 1], nullptr, 10);
    if (a == "--repeats") repeats = std::atoi(argv[i + 1]);
    if (a == "--stencil") stencil = std::atoi(argv[i + 1]) != 0;
    if (a == "--saves") saves = std::atoi(argv[i + 1]) != 0;
    if (a == "--plain-copy") plain_copy = std::atoi(argv[i + 1]) != 0;
    if (a == "--drain-mib-per-second") drain_pace = std::strtod(argv[i + 1], nullptr) * (1 << 20);
  }
  strata::Executor ex(rt);
  const std::size_t nx = 1024;
  const std::size_t rows = (mib << 20) / (nx * sizeof(double));
  std::vector<double> u((rows + 2) * nx), v((rows + 2) * nx);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = std::sin(static_cast<double>(i) * 1e-5);
  v = u;
  const std::span<const std::byte> bytes = std::as_bytes(std::span(u).subspan(nx, rows * nx));
  const double total_bytes = static_cast<double>(bytes.size()) * rt.size();
  auto slowest = [&](double s) { return rt.mpi().allreduce_max(s); };
  const strata::io::GlobalBlock block{
      .global_shape = {rows * static_cast<std::size_t>(rt.size()), nx},
      .first_row = rows * static_cast<std::size_t>(rt.rank())};

  std::vector<Entry> entries;
  std::vector<std::string> order;
  auto add = [&](const std::string& name, const std::string& label, double s, int rep,
                 double items = 0) {
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
    entries.push_back({name, label, s, items > 0 ? 0 : total_bytes / s, items, rep});
  };
  const std::string vs = std::string("vs:") + kBaseline;

  const std::string base_dir = shared + "/baseline";
  const std::string plain_dir = local + "/plain";
  if (rt.rank() == 0) {
    fs::create_directories(base_dir);
    fs::create_directories(plain_dir);
  }
  rt.mpi().barrier();

  struct Level {
    const char* name;
    bool local;
    bool partner;
    int xor_group;
  };
  const std::string nodes = std::getenv("STRATA_NODE_NAME") != nullptr
                                ? "simulated nodes (STRATA_NODE_NAME)"
                                : std::to_string(rt.mpi().node_count()) + " node(s)";
  std::vector<Level> levels{{"shared", false, false, 0}, {"local", true, false, 0}};
  // Partner copies and XOR parity need a second node, real or simulated (STRATA_NODE_NAME). With
  // the bench's 2 nodes the XOR group is those 2: each node stores parity of one node's data, the
  // space partner takes, so the two cases compare the ring reduce-scatter with the partner send.
  if (std::getenv("STRATA_NODE_NAME") != nullptr || rt.mpi().node_count() > 1) {
    levels.push_back({"local_partner", true, true, 0});
    levels.push_back({"local_xor", true, false, 2});
  }
  if (!saves) levels.clear();
  // One Checkpointer per level for the whole run, as a simulation keeps one, each warmed up by a
  // first save that is not timed (its staging buffers and local files are then in place).
  std::vector<std::unique_ptr<strata::io::Checkpointer>> checkpointers;
  for (const Level& c : levels) {
    strata::io::CheckpointOptions o;
    o.dir = shared + "/" + c.name;
    if (c.local) o.local_dir = local + "/" + c.name;
    o.partner = c.partner;
    o.xor_group = c.xor_group;
    o.codec = strata::io::no_compression();
    o.incremental = false;  // every save writes every byte, as the baseline does
    o.keep = 1;
    checkpointers.push_back(std::make_unique<strata::io::Checkpointer>(rt, ex, o));
    checkpointers.back()->protect("u", std::span(u).subspan(nx, rows * nx), block);
    checkpointers.back()->save(1);
    checkpointers.back()->finish_drain();
  }

  // One case per call: the baseline, the plain local write, or a level's save.
  auto run_level = [&](std::size_t level, int rep) {
    const Level& c = levels[level];
    strata::io::Checkpointer& ck = *checkpointers[level];
    rt.mpi().barrier();
    const auto start = Clock::now();
    ck.save(rep + 2);
    const double held = slowest(seconds_since(start));
    ck.wait();
    const double committed = slowest(seconds_since(start));
    ck.finish_drain();
    const double safe = slowest(seconds_since(start));
    const std::string n = c.name;
    add("save_holds/" + n, vs, held, rep);
    add("commit/" + n, vs, committed, rep);
    if (c.local) add("safe_in_shared/" + n, vs, safe, rep);
  };
  std::vector<std::function<void(int)>> cases;
  cases.push_back([&](int rep) {
    rt.mpi().barrier();
    const auto t = Clock::now();
    write_plain(base_dir, rt.rank(), bytes, true);
    add(kBaseline, "baseline", slowest(seconds_since(t)), rep);
  });
  cases.push_back([&](int rep) {
    rt.mpi().barrier();
    const auto t = Clock::now();
    write_plain(plain_dir, rt.rank(), bytes, false);
    add("local_plain_write", vs, slowest(seconds_since(t)), rep);
  });
  cases.push_back([&](int rep) {
    rt.mpi().barrier();
    const auto t = Clock::now();
    sha256_chunks(bytes);
    write_plain(plain_dir, rt.rank(), bytes, false);
    add("local_plain_write_sha256", vs, slowest(seconds_since(t)), rep);
  });
  for (std::size_t i = 0; i < levels.size(); ++i) {
    cases.push_back([&, i](int rep) { run_level(i, rep); });
  }

  std::mt19937 shuffle(42);  // the same order on every rank: the cases are collective
  std::vector<std::size_t> picks(cases.size());
  for (int rep = 0; saves && rep < repeats; ++rep) {
    for (std::size_t i = 0; i < picks.size(); ++i) picks[i] = i;
    std::shuffle(picks.begin(), picks.end(), shuffle);
    for (std::size_t i : picks) cases[i](rep);
  }

  checkpointers.clear();

  // A drain in flight against a computing stencil: steps per second with and without, in turns;
  // the drain at its pace (the library's default unless --drain-mib-per-second) and unpaced.
  strata::io::CheckpointOptions o;
  o.codec = strata::io::no_compression();
  o.incremental = false;
  o.keep = 1;
  double drain_seconds = 0;
  double unpaced_seconds = 0;
  double copy_seconds = 0;
  if (stencil) {
    o.dir = shared + "/drain";
    o.local_dir = local + "/drain";
    o.drain_bytes_per_second = drain_pace;
    strata::io::Checkpointer ck(rt, ex, o);
    o.dir = shared + "/drain_unpaced";
    o.local_dir = local + "/drain_unpaced";
    o.drain_bytes_per_second = 0;
    strata::io::Checkpointer unpaced(rt, ex, o);
    ck.protect("u", std::span(u).subspan(nx, rows * nx), block);
    unpaced.protect("u", std::span(u).subspan(nx, rows * nx), block);
    const std::size_t stencil_rows = std::min<std::size_t>(rows, 4096);  // a step of a few ms
    auto step = [&] {
      strata::kernels::stencil5(std::span<const double>(v), std::span(u), nx, 1, stencil_rows, 0.2);
    };
    // The plain copy's source: the same bytes in the local folder (not timed).
    const std::string copy_from = plain_dir + "/copy-source-" + std::to_string(rt.rank()) + ".bin";
    const std::string copy_to = base_dir + "/copy-" + std::to_string(rt.rank()) + ".bin";
    write_plain(plain_dir, rt.rank(), bytes, false);
    fs::rename(plain_dir + "/rank-" + std::to_string(rt.rank()) + ".bin", copy_from);
    // Steps per second per rank, averaged over ranks.
    auto rate = [&](long steps, double s) {
      return rt.mpi().allreduce_sum(steps > 0 ? static_cast<double>(steps) / s : 0.0) / rt.size();
    };
    // Steps computed while a drain of checkpointer c's save of `at` is in flight, and its seconds.
    auto drain_case = [&](strata::io::Checkpointer& c, long at) {
      rt.mpi().barrier();
      c.save(at);
      c.wait();  // committed locally; the drain now runs in the background
      const auto t0 = Clock::now();
      long n = 0;
      while (c.drain_status().state == strata::io::SaveState::in_flight) {
        step();
        ++n;
      }
      const double s = seconds_since(t0);
      c.finish_drain();
      return std::pair{n, s};
    };
    std::vector<double> drains, unpaced_drains, copies;
    for (int rep = 0; rep < repeats; ++rep) {
      // Each case is followed by as long without anything in flight: the quiet rate is taken
      // from those windows together, so a busy spell of the machine weighs on both sides alike.
      long q = 0;
      double quiet_s = 0;
      auto quiet = [&](double seconds) {
        rt.mpi().barrier();
        const auto t0 = Clock::now();
        while (seconds_since(t0) < std::max(seconds, 0.5)) {
          step();
          ++q;
        }
        quiet_s += seconds_since(t0);
      };
      const auto [n, busy_s] = drain_case(ck, 100 + rep);
      drains.push_back(busy_s);
      quiet(busy_s);
      const auto [m, unpaced_s] = drain_case(unpaced, 100 + rep);
      unpaced_drains.push_back(unpaced_s);
      quiet(unpaced_s);
      // The plain low-priority copy of the same bytes in its place.
      long c = 0;
      double copy_s = 0;
      if (plain_copy) {
        rt.mpi().barrier();
        std::atomic<bool> copied{false};
        const auto t0 = Clock::now();
        std::thread copy([&] {
          plain_low_priority_copy(copy_from, copy_to);
          copied = true;
        });
        while (!copied) {
          step();
          ++c;
        }
        copy_s = seconds_since(t0);
        copy.join();
        fs::remove(copy_to);
        copies.push_back(copy_s);
        quiet(copy_s);
      }
      const double quiet_rate = rate(q, quiet_s);
      add(kQuiet, "baseline", 1.0 / quiet_rate, rep, quiet_rate);
      const std::string vs_quiet = std::string("vs:") + kQuiet;
      for (const auto& [name, steps, s] :
           {std::tuple{"stencil/drain_in_flight", n, busy_s},
            std::tuple{"stencil/unpaced_drain_in_flight", m, unpaced_s},
            std::tuple{"stencil/plain_copy_in_flight", c, copy_s}}) {
        const double r = rate(steps, s);
        if (r > 0) add(name, vs_quiet, 1.0 / r, rep, r);
      }
    }
    drain_seconds = slowest(median(drains));
    unpaced_seconds = slowest(median(unpaced_drains));
    copy_seconds = slowest(median(copies));
  }

  if (rt.rank() == 0) {
    std::printf("%d ranks on %s, %zu MiB per rank, raw (no compression), %d repetitions\n",
                rt.size(), nodes.c_str(), mib, repeats);
    std::printf("%-28s %10s %12s\n", "case", "median s", "vs baseline");
    double base_s = 0;
    for (const std::string& name : order) {
      std::vector<double> s;
      for (const Entry& e : entries) {
        if (e.name == name) s.push_back(e.seconds);
      }
      if (name == kBaseline) base_s = median(s);
    }
    for (const std::string& name : order) {
      std::vector<double> s;
      for (const Entry& e : entries) {
        if (e.name == name) s.push_back(e.seconds);
      }
      if (name.starts_with("stencil/")) {
        std::printf("%-28s %10.1f steps/s per rank\n", name.c_str(), 1.0 / median(s));
      } else {
        std::printf("%-28s %10.3f %11.2fx\n", name.c_str(), median(s), base_s / median(s));
      }
    }
    std::printf(
        "a drain took %.2f s at %.0f MiB/s per rank, %.2f s unpaced, and a plain copy %.2f s "
        "(medians) while the stencil computed\n",
        drain_seconds, drain_pace / (1 << 20), unpaced_seconds, copy_seconds);
    if (!out.empty()) {
      int policy = ::sched_getscheduler(0);
      std::string extra = ", \"checkpoint_levels_setup\": \"" + std::to_string(rt.size()) +
                          " ranks on " + nodes + ", " + std::to_string(mib) +
                          " MiB per rank; shared " + shared + ", local " + local +
                          "\", \"checkpoint_levels_repetitions\": " + std::to_string(repeats) +
                          ", \"checkpoint_levels_drain_mib_per_second\": " +
                          std::to_string(drain_pace / (1 << 20));
      if (policy == SCHED_RR || policy == SCHED_FIFO) {
        sched_param p{};
        ::sched_getparam(0, &p);
        extra += ", \"priority\": \"real-time " + std::to_string(p.sched_priority) + "\"";
      }
      write_json(out, entries, order, extra);
    }
  }
  // The shared folders by rank 0, then each node's local folders by its ranks.
  rt.mpi().barrier();
  std::error_code ec;
  if (rt.rank() == 0) {
    fs::remove_all(base_dir, ec);
    for (const char* n : {"shared", "local", "local_partner", "local_xor", "drain", "drain_unpaced"})
      fs::remove_all(shared + "/" + n, ec);
  }
  rt.mpi().barrier();
  fs::remove_all(plain_dir, ec);
  for (const char* n : {"local", "local_partner", "local_xor", "drain", "drain_unpaced"})
    fs::remove_all(local + "/" + n, ec);
  return 0;
}
