// SPDX-License-Identifier: Apache-2.0
// The heat simulation: explicit 2-D heat diffusion (5-point stencil) with rows split across MPI
// ranks, halos exchanged each step, state in placed huge-page arrays, and checkpoint/restart
// through strata::io::Checkpointer — restartable after a kill, a stop signal or on another rank
// count, always with the same final checksum. Written only against strata's public headers.
//
//   strata_heat --nx 1024 --ny 1024 --steps 2000 --ckpt-dir heat-ckpt --every-steps 200
//   mpirun -np 4 strata_heat --stop-at-step 500      # checkpoints at 500, exits 75 for requeue
//   srun -N2 -n4 strata_heat --local-dir /tmp/heat --partner --ckpt-dir /scratch/heat-ckpt
//   srun -N8 -n32 strata_heat --local-dir /tmp/heat --xor-group 4 --ckpt-dir /scratch/heat-ckpt
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <strata/io/checkpoint/checkpoint.hpp>
#include <strata/strata.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

struct Options {
  std::size_t nx = 1024;
  std::size_t ny = 1024;
  long steps = 2000;
  double alpha = 0.2;
  std::string ckpt_dir = "heat-ckpt";
  std::string local_dir;
  bool partner = false;
  int xor_group = 0;
  int drain_every = 1;
  double drain_mib_per_second = strata::io::kDefaultDrainBytesPerSecond / (1 << 20);
  long every_steps = 200;
  double every_seconds = 0;
  int keep = 2;
  int level = 1;
  long stop_at_step = -1;
  int step_delay_ms = 0;
};

// Value of global cell (row, col) at step 0: a hot top edge and a hot square in the middle, from
// the global indices alone so that every rank count starts from the same field.
double initial_value(std::size_t row, std::size_t col, std::size_t ny, std::size_t nx) {
  if (row == 0) return 1.0;
  if (row >= ny / 4 && row < 3 * ny / 4 && col >= nx / 4 && col < 3 * nx / 4) return 2.0;
  return 0.0;
}

// 64-bit FNV-1a: the checksum must be independent of the rank count and need no extra library.
constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;
std::uint64_t fnv1a(std::span<const std::byte> bytes, std::uint64_t h = kFnvOffset) {
  for (std::byte b : bytes) {
    h ^= static_cast<std::uint64_t>(b);
    h *= kFnvPrime;
  }
  return h;
}

// Rank 0's facts on stdout, one per line, flushed at once: tests and the Slurm template read them
// from jobs that may be killed a moment later.
__attribute__((format(printf, 2, 3))) void say(const strata::Runtime& rt, const char* format, ...) {
  if (rt.rank() != 0) return;
  va_list args;
  va_start(args, format);
  std::vprintf(format, args);
  va_end(args);
  std::putchar('\n');
  std::fflush(stdout);
}

class HeatSolver {
 public:
  HeatSolver(strata::Runtime& rt, strata::Executor& ex, const Options& o)
      : rt_(rt), ex_(ex), o_(o) {
    if (o.nx < 3 || o.ny < 3 || o.ny < static_cast<std::size_t>(rt.size())) {
      throw strata::Error(strata::ErrorCategory::invalid_argument,
                          "the grid needs at least 3 x 3 cells and a row per rank",
                          {{"nx", std::to_string(o.nx)},
                           {"ny", std::to_string(o.ny)},
                           {"ranks", std::to_string(rt.size())}});
    }
    const auto mine = strata::io::partition_rows(o.ny, rt.rank(), rt.size());
    first_row_ = mine.first;
    rows_ = mine.count;
    a_ = rt.memory().array<double>("heat_a", {rows_ + 2, o.nx});
    b_ = rt.memory().array<double>("heat_b", {rows_ + 2, o.nx});
    for (std::size_t i = 0; i < rows_ + 2; ++i) {
      // Halo rows outside the domain stay 0; they are never read.
      const long global = static_cast<long>(first_row_ + i) - 1;
      for (std::size_t j = 0; j < o.nx; ++j) {
        const double v = global < 0 || global >= static_cast<long>(o.ny)
                             ? 0.0
                             : initial_value(static_cast<std::size_t>(global), j, o.ny, o.nx);
        a_(i, j) = v;
        b_(i, j) = v;
      }
    }
    // Local rows updated each step: global rows 1 .. ny-2 (the first and last are fixed).
    const long first = std::max<long>(1, 2 - static_cast<long>(first_row_));
    const long last = std::min<long>(static_cast<long>(rows_) + 1,
                                     static_cast<long>(o.ny) - static_cast<long>(first_row_));
    update_first_ = static_cast<std::size_t>(first);
    update_last_ = static_cast<std::size_t>(std::max(first, last));
  }

  HeatSolver(const HeatSolver&) = delete;
  HeatSolver& operator=(const HeatSolver&) = delete;

  std::size_t first_row() const noexcept { return first_row_; }
  std::size_t rows() const noexcept { return rows_; }
  // The interior rows that hold the state between steps (after make_state_current()).
  std::span<double> state_rows() const { return a_.rows(1, rows_); }

  // One explicit step: halos of the current field, then the stencil into the other array, each
  // row on the threads of the node that holds it (both arrays have the same plan).
  void step() {
    exchange_halos(*cur_);
    const std::span<const double> in = cur_->span();
    const std::span<double> out = next_->span();
    const std::size_t nx = o_.nx;
    const double alpha = o_.alpha;
    strata::for_each_rows(ex_, *next_, update_first_, update_last_,
                          [&](std::size_t first, std::size_t last) {
                            strata::kernels::stencil5(in, out, nx, first, last, alpha);
                          });
    std::swap(cur_, next_);
  }

  // Puts the current field into array a (the protected one); a copy only after an odd step.
  void make_state_current() {
    if (cur_ == &a_) return;
    strata::kernels::copy(std::as_bytes(b_.rows(1, rows_)),
                          std::as_writable_bytes(a_.rows(1, rows_)));
    cur_ = &a_;
    next_ = &b_;
  }

  // FNV-1a of every global row, folded in global row order on rank 0 (0 elsewhere).
  std::uint64_t checksum() const {
    std::vector<std::uint64_t> row_hashes(rows_);
    for (std::size_t i = 0; i < rows_; ++i) {
      row_hashes[i] = fnv1a(std::as_bytes(cur_->rows(i + 1, 1)));
    }
    auto parts = rt_.mpi().gather_bytes(std::as_bytes(std::span(row_hashes)), 0);
    std::uint64_t h = kFnvOffset;
    for (const auto& part : parts) h = fnv1a(part, h);
    return h;
  }

 private:
  // Sends the first interior row up and the last one down; receives the halos from the
  // neighbours (-1: a domain edge, nobody to talk to).
  void exchange_halos(const strata::Array<double>& u) {
    const int up = rt_.rank() > 0 ? rt_.rank() - 1 : -1;
    const int down = rt_.rank() + 1 < rt_.size() ? rt_.rank() + 1 : -1;
    auto row = [&](std::size_t i) { return std::as_writable_bytes(u.rows(i, 1)); };
    rt_.mpi().sendrecv_bytes(row(1), up, row(rows_ + 1), down, 1);
    rt_.mpi().sendrecv_bytes(row(rows_), down, row(0), up, 2);
  }

  strata::Runtime& rt_;
  strata::Executor& ex_;
  const Options& o_;
  std::size_t first_row_ = 0;
  std::size_t rows_ = 0;
  std::size_t update_first_ = 1;
  std::size_t update_last_ = 1;
  strata::Array<double> a_;
  strata::Array<double> b_;
  strata::Array<double>* cur_ = &a_;
  strata::Array<double>* next_ = &b_;
};

int run(strata::Runtime& rt, const Options& o) {
  strata::Executor ex(rt);
  HeatSolver heat(rt, ex, o);

  strata::io::CheckpointOptions ck_options;
  ck_options.dir = o.ckpt_dir;
  ck_options.local_dir = o.local_dir;
  ck_options.partner = o.partner;
  ck_options.xor_group = o.xor_group;
  ck_options.drain_every = o.drain_every;
  ck_options.drain_bytes_per_second = o.drain_mib_per_second * (1 << 20);
  ck_options.every_steps = o.every_steps;
  ck_options.every_seconds = o.every_seconds;
  ck_options.keep = o.keep;
  ck_options.codec = o.level > 0 ? strata::io::zstd(o.level) : strata::io::no_compression();
  strata::io::Checkpointer ck(rt, ex, ck_options);
  ck.protect("u", heat.state_rows(),
             strata::io::GlobalBlock{.global_shape = {o.ny, o.nx}, .first_row = heat.first_row()});

  if (rt.slurm().in_job) say(rt, "slurm restart count %d", rt.slurm().restart_count);
  const std::optional<long> restored = ck.restore_latest();
  if (rt.rank() == 0) {
    for (const auto& skipped : ck.last_restore().skipped) {
      std::fprintf(stderr, "restore skipped checkpoint step %ld: %s\n", skipped.step,
                   skipped.reason.c_str());
    }
  }
  if (restored) {
    say(rt, "restored step %ld", *restored);
    say(rt, "restore level %s", strata::io::to_string(ck.last_restore().level));
    if (!ck.last_restore().rebuilt_ranks.empty()) {
      std::string ranks;
      for (int r : ck.last_restore().rebuilt_ranks) ranks += " " + std::to_string(r);
      say(rt, "restore rebuilt ranks%s", ranks.c_str());
    }
  } else {
    say(rt, "fresh start");
  }
  // Going on would print a checksum of step *restored labelled with --steps; refuse instead (the
  // same decision on every rank, before any save, so the checkpoints stay as they are).
  if (restored && *restored > o.steps) {
    throw strata::Error(strata::ErrorCategory::invalid_argument,
                        "the restored checkpoint is past --steps; ask for more steps or use "
                        "another --ckpt-dir",
                        {{"restored step", std::to_string(*restored)},
                         {"steps", std::to_string(o.steps)},
                         {"ckpt-dir", o.ckpt_dir}});
  }

  long step = restored.value_or(0);
  long last_reported = step;
  bool in_flight = false;  // a save was started and not yet waited for (the same on every rank)
  auto report = [&](const strata::io::SaveStatus& s) {
    if (s.state == strata::io::SaveState::committed && s.step > last_reported) {
      say(rt, "checkpoint step %ld", s.step);
      last_reported = s.step;
    }
  };
  // Collective: with a local level, makes sure the newest step is in the shared folder too (at a
  // stop signal, before the job ends); says so. A failed drain leaves it on the local level.
  auto finish_drain = [&] {
    if (o.local_dir.empty()) return;
    try {
      const strata::io::DrainStatus d = ck.finish_drain();
      if (d.state == strata::io::SaveState::committed) {
        say(rt, "drained step %ld (%.3f s after its save)", d.step, d.safe_seconds);
      }
    } catch (const strata::Error& e) {
      if (rt.rank() == 0) std::fprintf(stderr, "drain failed: %s\n", e.what());
    }
  };
  // Collective: ends the save in flight, saying whether it committed. A failed save leaves the
  // previous checkpoint the newest; the simulation goes on.
  auto finish_save = [&] {
    if (!in_flight) return;
    in_flight = false;
    try {
      report(ck.wait());
    } catch (const strata::Error& e) {
      if (rt.rank() == 0) std::fprintf(stderr, "checkpoint failed: %s\n", e.what());
    }
  };

  while (step < o.steps) {
    heat.step();
    ++step;
    if (o.step_delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(o.step_delay_ms));
    const bool stop = rt.stop_requested_anywhere() || step == o.stop_at_step;
    if (ck.due(step) || stop) {
      finish_save();
      heat.make_state_current();
      try {
        ck.save(step);
        in_flight = true;
      } catch (const strata::Error& e) {
        if (rt.rank() == 0) std::fprintf(stderr, "checkpoint failed: %s\n", e.what());
      }
    }
    if (in_flight) report(ck.status());
    if (stop) {
      finish_save();
      finish_drain();
      say(rt, "stopped at step %ld for requeue", step);
      return rt.exit_for_requeue();
    }
  }
  finish_save();
  finish_drain();
  const std::uint64_t sum = heat.checksum();
  say(rt, "checksum 0x%016llx", static_cast<unsigned long long>(sum));
  say(rt, "steps %ld ranks %d", o.steps, rt.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // An error on any rank is one line naming it, then every rank ends (strata::run_main).
  return strata::run_main(argc, argv, [&](strata::Runtime& rt) {
    Options o;
    CLI::App app{"strata_heat: 2-D heat diffusion with checkpoint/restart"};
    // A later option overrides an earlier one, so scripts can append to a base command line.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.add_option("--nx", o.nx, "grid columns")->check(CLI::Range(3, 1 << 20));
    app.add_option("--ny", o.ny, "grid rows (global)")->check(CLI::Range(3, 1 << 20));
    app.add_option("--steps", o.steps, "steps to reach")->check(CLI::NonNegativeNumber);
    app.add_option("--alpha", o.alpha, "diffusion number (stable up to 0.25)")
        ->check(CLI::Range(0.0, 0.25));
    app.add_option("--ckpt-dir", o.ckpt_dir, "checkpoint folder");
    app.add_option("--local-dir", o.local_dir,
                   "node-local checkpoint folder (a save commits there; --ckpt-dir is then the "
                   "shared folder it drains to)");
    app.add_flag("--partner", o.partner,
                 "also copy each rank's shard to a rank on another node (needs --local-dir)");
    app.add_option("--xor-group", o.xor_group,
                   "XOR parity over groups of K nodes: any one node of a group can be lost "
                   "(needs --local-dir; instead of --partner; 0: off)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--drain-every", o.drain_every,
                   "drain every Nth local checkpoint to --ckpt-dir (0: only at the end or a stop)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--drain-mib-per-second", o.drain_mib_per_second,
                   "pace of each rank's drain while the simulation computes (0: unpaced; a stop "
                   "or the end drains at full speed)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--every-steps", o.every_steps, "checkpoint every N steps (0: never)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--every-seconds", o.every_seconds, "checkpoint every S seconds (0: never)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--keep", o.keep, "complete checkpoints kept")->check(CLI::PositiveNumber);
    app.add_option("--level", o.level, "zstd level (0: no compression)")->check(CLI::Range(0, 22));
    app.add_option("--stop-at-step", o.stop_at_step,
                   "act as if a stop signal arrived at this step: checkpoint and exit 75");
    app.add_option("--step-delay-ms", o.step_delay_ms, "sleep this long after each step")
        ->check(CLI::NonNegativeNumber);
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return rt.rank() == 0 ? app.exit(e) : (e.get_exit_code() == 0 ? 0 : 1);
    }
    return run(rt, o);
  });
}
