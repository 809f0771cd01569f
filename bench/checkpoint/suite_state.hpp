// SPDX-License-Identifier: Apache-2.0
// What every case of the checkpoint suite works on, made once in main() before any case runs:
// the heat field (a placed strata Array, as a simulation holds its state), a scratch folder on
// the disk under test, one Checkpointer per kind of save, each warmed up by one untimed save, and
// the checkpoints and raw file the read cases restore and read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "strata/io/checkpoint/checkpoint.hpp"
#include "strata/runtime/cluster/runtime.hpp"
#include "strata/runtime/memory/array.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata::bench::checkpoint {

// One Checkpointer each, in its own sub-folder of the scratch folder, protecting "u":
enum class saver : std::size_t {
  full_none,      // every chunk written raw (incremental off), keep 2
  full_zstd1,     // every chunk zstd level 1 (incremental off), keep 2
  incremental,    // zstd 1, unchanged chunks referenced, never a forced full save, keep 2
  blocking,       // the defaults (zstd 1, incremental), for the time save() holds the caller
  restore_none,   // one raw checkpoint of the field, restored into restore_target()
  restore_zstd1,  // one zstd 1 checkpoint of the field, restored into restore_target()
};
inline constexpr std::size_t saver_count = 6;

class suite_state {
 public:
  // Fills the field, creates the scratch folder in $TMPDIR (else /tmp), makes the checkpointers
  // and saves once with each, writes the raw copy, and checks that a restore and a pread() give
  // the field back. Throws strata::Error or std::system_error, or std::runtime_error when a check
  // fails.
  suite_state(Runtime& runtime, Executor& executor);
  // Finishes the saves in flight, then removes the scratch folder and all it holds.
  ~suite_state();
  suite_state(const suite_state&) = delete;
  suite_state& operator=(const suite_state&) = delete;

  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  std::size_t state_bytes() const noexcept { return rows_ * cols_ * sizeof(double); }
  // The field the saves protect (the incremental case changes chunks of it between saves).
  std::span<double> field() const noexcept { return field_.span(); }
  std::span<const std::byte> field_bytes() const noexcept { return std::as_bytes(field()); }
  // A state-sized buffer, touched once: where memcpy_state copies and pread_state reads to.
  std::span<std::byte> scratch() noexcept { return std::as_writable_bytes(scratch_.span()); }
  // The state-sized array the restore cases' checkpointers protect, so that restoring never
  // undoes the incremental case's changes to the field.
  std::span<double> restore_target() const noexcept { return restore_target_.span(); }

  const std::string& folder() const noexcept { return folder_; }
  // The field's bytes, written once by write_fdatasync: what pread_state reads.
  std::string raw_file() const { return folder_ + "/state.raw"; }

  io::Checkpointer& checkpointer(saver s) { return *checkpointers_[index(s)]; }
  // The step the next save of `s` takes (each saver counts its own steps up from 1).
  long next_step(saver s) { return ++steps_[index(s)]; }

  // The suite's settings, the file system under test and the compression ratio, for the report.
  void add_context() const;

 private:
  static std::size_t index(saver s) noexcept { return static_cast<std::size_t>(s); }
  io::Checkpointer& make_checkpointer(saver s, const std::string& name, io::CheckpointOptions o);
  void warm_up();

  Runtime& runtime_;
  Executor& executor_;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::string folder_;  // first made and (in the destructor's body) last removed
  Array<double> field_;
  Array<double> restore_target_;
  Array<std::uint8_t> scratch_;
  std::array<std::unique_ptr<io::Checkpointer>, saver_count> checkpointers_;
  std::array<long, saver_count> steps_{};
  double zstd1_written_fraction_ = 0;
};

// The run's suite state, made by main() and set here for the cases; null outside that time.
void set_suite(suite_state* state) noexcept;
suite_state& suite();

}  // namespace strata::bench::checkpoint
