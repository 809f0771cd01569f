// SPDX-License-Identifier: Apache-2.0
// Makes the checkpoint suite's state (suite_state.hpp): the field, the scratch folder, one
// warmed-up Checkpointer per kind of save, the restore checkpoints and the raw copy, with checks
// that what the read cases read back is the field. Everything here runs once, before the first
// case.
#include "suite_state.hpp"

#include <benchmark/benchmark.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

#include "checkpoint_settings.hpp"
#include "common/file_system_name.hpp"
#include "durable_file.hpp"
#include "heat_field.hpp"

namespace strata::bench::checkpoint {
namespace {

suite_state* the_suite = nullptr;

std::size_t state_mib() {
  const char* text = std::getenv(state_mib_variable);
  if (text == nullptr || *text == '\0') return default_state_mib;
  char* end = nullptr;
  errno = 0;
  const unsigned long long mib = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || mib < 1 || mib > (std::size_t{1} << 20)) {
    throw std::runtime_error(std::string(state_mib_variable) + " must be a whole number of MiB " +
                             "from 1 to 1048576, not '" + text + "'");
  }
  return static_cast<std::size_t>(mib);
}

std::string scratch_base() {
  const char* dir = std::getenv("TMPDIR");
  return (dir != nullptr && *dir != '\0') ? dir : "/tmp";
}

std::string make_scratch_folder() {
  std::string path = scratch_base() + "/strata_bench_checkpoint.XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(),
                            "checkpoint bench: cannot create " + path);
  }
  return path;
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("checkpoint bench: check failed: " + what);
}

}  // namespace

suite_state::suite_state(Runtime& runtime, Executor& executor)
    : runtime_(runtime),
      executor_(executor),
      rows_(state_mib() * (std::size_t{1} << 20) / (grid_cols * sizeof(double))),
      cols_(grid_cols),
      folder_(make_scratch_folder()) {
  try {
    field_ = runtime_.memory().array<double>("u", {rows_, cols_});
    restore_target_ = runtime_.memory().array<double>("u_restored", {rows_, cols_});
    scratch_ = runtime_.memory().array<std::uint8_t>("scratch", {state_bytes()});
    fill_heat_field(field(), rows_, cols_);
    std::copy(field().begin(), field().end(), restore_target().begin());

    io::CheckpointOptions full;
    full.keep = 2;
    full.chunk_bytes = chunk_bytes;
    full.incremental = false;
    full.codec = io::no_compression();
    make_checkpointer(saver::full_none, "full_none", full);
    full.codec = io::zstd(1);
    make_checkpointer(saver::full_zstd1, "full_zstd1", full);

    io::CheckpointOptions incremental = full;
    incremental.incremental = true;
    incremental.full_every = INT_MAX;
    make_checkpointer(saver::incremental, "incremental", incremental);

    io::CheckpointOptions defaults;
    defaults.chunk_bytes = chunk_bytes;
    make_checkpointer(saver::blocking, "blocking", defaults);

    io::CheckpointOptions restore = full;
    restore.keep = 1;
    restore.codec = io::no_compression();
    make_checkpointer(saver::restore_none, "restore_none", restore);
    restore.codec = io::zstd(1);
    make_checkpointer(saver::restore_zstd1, "restore_zstd1", restore);

    warm_up();
  } catch (...) {
    for (auto& c : checkpointers_) c.reset();
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
    throw;
  }
}

suite_state::~suite_state() {
  for (auto& c : checkpointers_) c.reset();  // each waits for its save in flight
  std::error_code ignored;                   // nothing useful to do about a folder we cannot remove
  std::filesystem::remove_all(folder_, ignored);
}

io::Checkpointer& suite_state::make_checkpointer(saver s, const std::string& name,
                                                 io::CheckpointOptions o) {
  o.dir = folder_ + "/" + name;
  auto& slot = checkpointers_[index(s)];
  slot = std::make_unique<io::Checkpointer>(runtime_, executor_, std::move(o));
  const bool restores = s == saver::restore_none || s == saver::restore_zstd1;
  const std::span<double> rows = restores ? restore_target() : field();
  slot->protect("u", rows, io::GlobalBlock{.global_shape = {rows_, cols_}, .first_row = 0});
  return *slot;
}

// One save with each checkpointer (it allocates and faults in its staging buffer at the first,
// which no timed save should pay for), then the read cases' files, each read back and compared.
void suite_state::warm_up() {
  for (std::size_t i = 0; i < saver_count; ++i) {
    const auto s = static_cast<saver>(i);
    checkpointer(s).save(next_step(s));
    const io::SaveStatus status = checkpointer(s).wait();
    if (s == saver::full_zstd1) {
      zstd1_written_fraction_ =
          static_cast<double>(status.written_bytes) / static_cast<double>(status.raw_bytes);
    }
  }
  const auto same_as_field = [this](std::span<const std::byte> bytes) {
    return std::memcmp(bytes.data(), field_bytes().data(), state_bytes()) == 0;
  };
  for (const saver s : {saver::restore_none, saver::restore_zstd1}) {
    std::fill(restore_target().begin(), restore_target().end(), -1.0);
    require(checkpointer(s).restore_latest() == steps_[index(s)], "restore_latest found its step");
    require(same_as_field(std::as_bytes(restore_target())), "a restore gives the field back");
  }
  write_fdatasync(raw_file(), field_bytes());
  fsync_folder(folder_);
  std::fill(scratch().begin(), scratch().end(), std::byte{0});
  pread_file(raw_file(), scratch());
  require(same_as_field(scratch()), "pread() gives the field back");
}

void suite_state::add_context() const {
  benchmark::AddCustomContext("checkpoint_dir", folder_);
  const std::string file_system = strata::bench::file_system_of(folder_);
  benchmark::AddCustomContext("checkpoint_file_system", file_system);
  if (file_system == "tmpfs") {
    std::fprintf(stderr,
                 "strata_bench_checkpoint: %s is on tmpfs, where fsync costs nothing: point "
                 "TMPDIR at the disk checkpoints go to\n",
                 folder_.c_str());
  }
  benchmark::AddCustomContext("checkpoint_state", std::to_string(state_bytes() >> 20) +
                                                      " MiB f64, " + std::to_string(rows_) + " x " +
                                                      std::to_string(cols_));
  benchmark::AddCustomContext("checkpoint_chunk_bytes", std::to_string(chunk_bytes));
  char fraction[32];
  std::snprintf(fraction, sizeof fraction, "%.3f", zstd1_written_fraction_);
  benchmark::AddCustomContext("checkpoint_zstd1_shard_fraction", fraction);
  benchmark::AddCustomContext("checkpoint_executor_threads", std::to_string(executor_.threads()));
  unsigned major = 0;
  unsigned minor = 0;
  unsigned release = 0;
  H5get_libversion(&major, &minor, &release);
  benchmark::AddCustomContext(
      "checkpoint_hdf5_baseline",
      "HDF5 " + std::to_string(major) + "." + std::to_string(minor) + "." +
          std::to_string(release) +
          ", MPI-IO driver on MPI_COMM_WORLD (1 rank), contiguous dataset, one collective "
          "H5Dwrite, H5Fflush, then fdatasync of the file and fsync of its folder");
  benchmark::AddCustomContext("checkpoint_page_cache",
                              "nothing dropped: pread_state and the restores read files that "
                              "were written and read back once before the timed runs, so both "
                              "read from the page cache");
}

void set_suite(suite_state* state) noexcept { the_suite = state; }

suite_state& suite() { return *the_suite; }

}  // namespace strata::bench::checkpoint
