// SPDX-License-Identifier: Apache-2.0
// The levels above the node-local one: the partner copy a save sends over MPI before it commits,
// and the drain of a committed local step to the shared folder — on its own thread and
// communicator, at low CPU and I/O priority while the simulation computes, committed in
// `shared` with the same two-phase rule as any save (every rank copies its shard into step-N.tmp
// and fsyncs it; rank 0 writes the manifest, renames, fsyncs the folder).
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "checkpoint/checkpointer_impl.hpp"
#include "checkpoint/rank_outcome.hpp"
#include "checkpoint/thread_priority.hpp"
#include "files/file_io.hpp"
#include "files/publish_file.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"

namespace strata::io {

namespace fs = std::filesystem;
using detail::RankOutcome;

// The drain thread's name (top -H, /proc/PID/task/TID/comm), at most 15 characters.
constexpr const char* kDrainThreadName = "strata-drain";

namespace {

// Set on the drain's own thread: only a drain in the background yields, not one that runs on the
// caller's thread (no MPI_THREAD_MULTIPLE).
thread_local bool on_drain_thread = false;

// Holds a copy in pieces to a pace: before each piece it sleeps until the bytes copied so far
// are due at `bytes_per_second`, in slices short enough that a hurry ends the pause at once.
class DrainPacer {
 public:
  DrainPacer(double bytes_per_second, std::size_t piece_bytes)
      : bytes_per_second_(bytes_per_second), piece_bytes_(piece_bytes) {}

  // Called before each piece; no pause before the first, none with no pace or once hurried.
  void before_piece(const std::function<bool()>& hurried) {
    using namespace std::chrono;
    const auto now = CheckpointClock::now();
    if (pieces_++ == 0) began_ = now;
    if (bytes_per_second_ <= 0 || hurried()) return;
    const double due_seconds =
        static_cast<double>(pieces_ - 1) * static_cast<double>(piece_bytes_) / bytes_per_second_;
    const auto due = began_ + duration_cast<CheckpointClock::duration>(duration<double>(due_seconds));
    for (auto t = now; t < due && !hurried(); t = CheckpointClock::now()) {
      std::this_thread::sleep_for(std::min<CheckpointClock::duration>(due - t, kSlice));
    }
    paused_seconds_ += duration<double>(CheckpointClock::now() - now).count();
  }
  double paused_seconds() const noexcept { return paused_seconds_; }

 private:
  static constexpr std::chrono::milliseconds kSlice{20};  // how soon a hurry is seen
  double bytes_per_second_;
  std::size_t piece_bytes_;
  std::uint64_t pieces_ = 0;
  CheckpointClock::time_point began_;
  double paused_seconds_ = 0;
};

}  // namespace

const char* to_string(CheckpointLevel level) noexcept {
  switch (level) {
    case CheckpointLevel::local:
      return "local";
    case CheckpointLevel::partner:
      return "partner";
    case CheckpointLevel::shared:
      return "shared";
    case CheckpointLevel::xor_parity:
      return "xor";
  }
  return "shared";
}

std::string Checkpointer::Impl::send_to_partner(long step) {
  std::vector<detail::FileTransfer> transfers;
  for (int r = 0; r < static_cast<int>(layout.partner.size()); ++r) {
    transfers.push_back({r, layout.partner[static_cast<std::size_t>(r)]});
  }
  // Shard t is rank t's: read from the sender's node folder, written into the receiver's.
  const std::string tmp = detail::temp_step_folder(my_node_folder, step);
  return detail::transfer_files(
      *commit_mpi, transfers,
      [&](std::size_t t) {
        return (fs::path(tmp) / detail::shard_name(static_cast<int>(t))).string();
      },
      [&](std::size_t t) {
        return (fs::path(tmp) / detail::shard_name(static_cast<int>(t))).string();
      });
}

void Checkpointer::Impl::start_drain(long step, detail::Manifest manifest,
                                     CheckpointClock::time_point started) {
  {
    std::lock_guard lock(status_mutex);
    drain = DrainStatus{};
    drain.step = step;
    drain.state = SaveState::in_flight;
    drain_failure = nullptr;
  }
  drain_harvested = false;
  drain_hurry = false;
  if (async) {
    drainer = std::thread([this, step, m = std::move(manifest), started] {
      ::pthread_setname_np(::pthread_self(), kDrainThreadName);
      on_drain_thread = true;
      run_drain(step, m, started);
    });
  } else {
    run_drain(step, manifest, started);
  }
}

void Checkpointer::Impl::run_drain(long step, const detail::Manifest& manifest,
                                   CheckpointClock::time_point started) {
  const auto began = CheckpointClock::now();
  MpiContext& mpi = *drain_mpi;
  RankOutcome mine;
  const std::string tmp = detail::temp_step_folder(options.dir, step);
  // It yields while nobody waits for it: save(), finish_drain() and a stop signal hurry it.
  detail::ThreadPriority priority;
  std::function<bool()> hurried = [&] { return drain_hurry.load() || rt.stop_requested(); };
  if (on_drain_thread && !hurried()) priority.lower();
  // Paced only in the background: a drain on the caller's thread has someone waiting for it.
  DrainPacer pacer(on_drain_thread ? options.drain_bytes_per_second : 0,
                   detail::kShardCopyPieceBytes);
  try {
    detail::create_temp_step_folder(tmp);
    detail::copy_file_in_pieces(detail::shard_path(my_node_folder, step, mpi.rank()),
                                (fs::path(tmp) / detail::shard_name(mpi.rank())).string(),
                                detail::kShardCopyPieceBytes, [&] {
                                  pacer.before_piece(hurried);
                                  if (priority.lowered() && hurried()) priority.restore();
                                });
  } catch (const std::exception& e) {
    mine = {RankOutcome::Kind::failed, ErrorCategory::io,
            "rank " + std::to_string(mpi.rank()) + ": " + e.what()};
  }
  // The commit waits at idle priority too: a rank whose copy finished first waits in the gather
  // for the others' without taking a CPU from the simulation.
  std::vector<std::byte> decided;
  try {
    auto parts = mpi.gather_bytes(mine.encode(), 0);
    if (mpi.rank() == 0) {
      RankOutcome decision;
      for (std::size_t r = 0; r < parts.size() && decision.kind == RankOutcome::Kind::ok; ++r) {
        decision = RankOutcome::decode(parts[r], "rank " + std::to_string(r));
      }
      if (decision.kind == RankOutcome::Kind::ok) {
        try {
          detail::publish_step(options.dir, step, manifest);
          prune_checkpoints(options.dir, options.keep);
        } catch (const std::exception& e) {
          decision = {RankOutcome::Kind::failed, ErrorCategory::io,
                      std::string("rank 0 (commit): ") + e.what()};
        }
      }
      if (decision.kind != RankOutcome::Kind::ok) {
        std::error_code ec;
        fs::remove_all(tmp, ec);
      }
      decided = decision.encode();
    }
    const RankOutcome decision = RankOutcome::decode(mpi.broadcast_bytes(decided, 0), "rank 0");
    const auto now = CheckpointClock::now();
    std::lock_guard lock(status_mutex);
    drain.drain_seconds = std::chrono::duration<double>(now - began).count();
    drain.safe_seconds = std::chrono::duration<double>(now - started).count();
    drain.paced_seconds = pacer.paused_seconds();
    if (decision.kind == RankOutcome::Kind::ok) {
      drain.state = SaveState::committed;
      newest_drained = step;
    } else {
      drain.state = SaveState::failed;
      drain.error = decision.text;
      drain_failure =
          std::make_exception_ptr(Error(ErrorCategory::io,
                                        "drain of checkpoint " + step_text(step) +
                                            " to the shared folder failed: " + decision.text +
                                            " (the step stays on the local level)",
                                        {{"folder", options.dir}, {"step", std::to_string(step)}}));
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(status_mutex);
    drain.state = SaveState::failed;
    drain.error = e.what();
    drain_failure = std::make_exception_ptr(
        Error(ErrorCategory::distributed,
              "drain of checkpoint " + step_text(step) + " failed: " + e.what()));
  }
}

void Checkpointer::Impl::join_drain() {
  drain_hurry = true;  // someone waits: the drain leaves its idle priority
  if (drainer.joinable()) drainer.join();
  if (drain_harvested) return;
  drain_harvested = true;
  std::lock_guard lock(status_mutex);
  if (drain.state == SaveState::committed) {
    // What a stop signal's lead time must cover with a local level: save() to the shared commit,
    // without the pauses of a paced drain (a stop signal ends them).
    rt.note_checkpoint_seconds(drain.safe_seconds - drain.paced_seconds);
    if (rt.rank() == 0) {
      log::info("checkpoint " + step_text(drain.step) + " drained to the shared folder in " +
                std::to_string(drain.drain_seconds) + " s (" + std::to_string(drain.safe_seconds) +
                " s after its save)");
    }
  } else if (drain.state == SaveState::failed && rt.rank() == 0) {
    log::warn("checkpoint " + step_text(drain.step) +
              " was not drained to the shared folder: " + drain.error);
  }
}

DrainStatus Checkpointer::finish_drain() {
  Impl& d = *impl_;
  d.harvest();
  d.join_drain();
  if (!d.levels()) {
    DrainStatus st;
    std::lock_guard lock(d.status_mutex);
    st.step = d.status.step;
    st.state = d.status.state == SaveState::committed ? SaveState::committed : SaveState::none;
    st.safe_seconds = d.status.total_seconds;
    return st;
  }
  if (d.newest_local && (!d.newest_drained || *d.newest_drained < *d.newest_local)) {
    const auto began = CheckpointClock::now();
    d.start_drain(*d.newest_local, d.newest_local_manifest, d.newest_local_started);
    d.join_drain();
    const double seconds = std::chrono::duration<double>(CheckpointClock::now() - began).count();
    if (d.rt.stop_requested() && d.rt.rank() == 0) {
      log::info("stop: newest checkpoint drained to the shared folder in " +
                std::to_string(seconds) + " s");
    }
  }
  std::exception_ptr failure;
  DrainStatus st;
  {
    std::lock_guard lock(d.status_mutex);
    st = d.drain;
    failure = d.drain_failure;
  }
  if (d.newest_drained && d.newest_local && *d.newest_drained == *d.newest_local &&
      st.state != SaveState::failed) {
    st.step = *d.newest_drained;
    st.state = SaveState::committed;
  }
  if (failure) std::rethrow_exception(failure);
  return st;
}

DrainStatus Checkpointer::drain_status() const {
  std::lock_guard lock(impl_->status_mutex);
  return impl_->drain;
}

}  // namespace strata::io
