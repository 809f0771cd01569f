// SPDX-License-Identifier: Apache-2.0
// The checkpoint protocol at n ranks, on a tiny state (one 512-byte row per rank) so that the
// protocol dominates: a save waited for until committed (shards, outcomes gathered at rank 0, the
// manifest, rename, fsyncs, prune, the decision broadcast) against each rank's write+fdatasync of
// a tiny file and a barrier; and restore_latest() of that state against a pread and a barrier.
#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "common/run_settings.hpp"
#include "scale_settings.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"

namespace strata::bench::scale {
namespace {

// This rank's row of a global (ranks x state_values) f64 array.
std::vector<double> state_row(int rank) {
  std::vector<double> row(state_values);
  for (int i = 0; i < state_values; ++i) row[i] = rank * 1000.0 + i;
  return row;
}

io::CheckpointOptions tiny_options(const std::string& folder) {
  io::CheckpointOptions o;
  o.dir = folder;
  o.keep = 2;
  o.codec = io::no_compression();
  o.incremental = false;  // every save writes and commits the whole (tiny) state
  o.run_id = "bench-scale";
  return o;
}

void protect_row(io::Checkpointer& ck, std::vector<double>& row) {
  Runtime& rt = runtime();
  ck.protect("state", std::span<double>(row),
             io::GlobalBlock{
                 Shape{static_cast<std::size_t>(rt.size()), static_cast<std::size_t>(state_values)},
                 static_cast<std::size_t>(rt.rank())});
}

// A file of this rank's own in the scratch folder, opened for the baselines.
class RankFile {
 public:
  explicit RankFile(const std::string& name) {
    path_ = scratch_folder() + "/" + name + "-" + std::to_string(runtime().rank());
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "open " + path_);
  }
  ~RankFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  RankFile(const RankFile&) = delete;
  RankFile& operator=(const RankFile&) = delete;
  int fd() const { return fd_; }

 private:
  std::string path_;
  int fd_ = -1;
};

void check(ssize_t done, std::size_t wanted, const char* what) {
  if (done != static_cast<ssize_t>(wanted)) {
    throw std::system_error(errno, std::generic_category(), what);
  }
}

void commit_write_fsync_barrier(benchmark::State& state) {
  RankFile file("commit-baseline");
  std::vector<double> row = state_row(runtime().rank());
  const std::size_t bytes = row.size() * sizeof(double);
  runtime().mpi().barrier();
  for (auto _ : state) {
    check(::pwrite(file.fd(), row.data(), bytes, 0), bytes, "pwrite");
    if (::fdatasync(file.fd()) != 0)
      throw std::system_error(errno, std::generic_category(), "fdatasync");
    MPI_Barrier(MPI_COMM_WORLD);
  }
  state.SetItemsProcessed(state.iterations());
  label_ratio(state, "", true);
}

void commit_checkpointer(benchmark::State& state, const std::string& baseline) {
  std::vector<double> row = state_row(runtime().rank());
  io::Checkpointer ck(runtime(), executor(), tiny_options(scratch_folder() + "/commit"));
  protect_row(ck, row);
  long step = 1;
  ck.save(step++);  // the first save also settles the stacked layout and makes the folder
  ck.wait();
  runtime().mpi().barrier();
  for (auto _ : state) {
    ck.save(step++);
    ck.wait();
  }
  state.SetItemsProcessed(state.iterations());
  // The manifest's size at this rank count: what it grows by per rank.
  std::uintmax_t manifest_bytes = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(scratch_folder() + "/commit")) {
    if (entry.path().filename() == "manifest.json") manifest_bytes = entry.file_size();
  }
  state.counters["manifest_bytes"] = static_cast<double>(manifest_bytes);
  label_ratio(state, baseline.c_str(), false);
}

void restore_pread_barrier(benchmark::State& state) {
  RankFile file("restore-baseline");
  std::vector<double> row = state_row(runtime().rank());
  const std::size_t bytes = row.size() * sizeof(double);
  check(::pwrite(file.fd(), row.data(), bytes, 0), bytes, "pwrite");
  runtime().mpi().barrier();
  for (auto _ : state) {
    check(::pread(file.fd(), row.data(), bytes, 0), bytes, "pread");
    MPI_Barrier(MPI_COMM_WORLD);
  }
  state.SetItemsProcessed(state.iterations());
  label_ratio(state, "", true);
}

void restore_checkpointer(benchmark::State& state, const std::string& baseline) {
  std::vector<double> row = state_row(runtime().rank());
  const std::string folder = scratch_folder() + "/restore";
  {
    io::Checkpointer ck(runtime(), executor(), tiny_options(folder));
    protect_row(ck, row);
    ck.save(1);
    ck.wait();
  }
  io::Checkpointer ck(runtime(), executor(), tiny_options(folder));
  protect_row(ck, row);
  runtime().mpi().barrier();
  for (auto _ : state) {
    if (ck.restore_latest() != 1) throw std::runtime_error("restore did not find step 1");
  }
  state.SetItemsProcessed(state.iterations());
  label_ratio(state, baseline.c_str(), false);
}

}  // namespace

void register_checkpoint_cases(int ranks) {
  const std::string commit_base =
      timed_name("commit_write_fsync_barrier", ranks, checkpoint_iterations);
  const std::string restore_base =
      timed_name("restore_pread_barrier", ranks, checkpoint_iterations);
  apply_timed_settings(
      benchmark::RegisterBenchmark(at_ranks("commit_write_fsync_barrier", ranks).c_str(),
                                   commit_write_fsync_barrier),
      checkpoint_iterations);
  apply_timed_settings(benchmark::RegisterBenchmark(at_ranks("commit_checkpointer", ranks).c_str(),
                                                    [commit_base](benchmark::State& s) {
                                                      commit_checkpointer(s, commit_base);
                                                    }),
                       checkpoint_iterations);
  apply_timed_settings(benchmark::RegisterBenchmark(
                           at_ranks("restore_pread_barrier", ranks).c_str(), restore_pread_barrier),
                       checkpoint_iterations);
  apply_timed_settings(benchmark::RegisterBenchmark(at_ranks("restore_checkpointer", ranks).c_str(),
                                                    [restore_base](benchmark::State& s) {
                                                      restore_checkpointer(s, restore_base);
                                                    }),
                       checkpoint_iterations);
}

}  // namespace strata::bench::scale
