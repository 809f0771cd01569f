// SPDX-License-Identifier: Apache-2.0
// time_committed_saves and time_durable_writes (timed_save.hpp): save() + wait(), or a baseline's
// durable write, per iteration; errors reported as the case's error.
#include "timed_save.hpp"

#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>

#include "durable_file.hpp"

namespace strata::bench::checkpoint {

void time_committed_saves(benchmark::State& state, saver s,
                          const std::function<void()>& untimed_before) {
  io::Checkpointer& checkpointer = suite().checkpointer(s);
  try {
    for (auto _ : state) {
      if (untimed_before) {
        state.PauseTiming();
        untimed_before();
        state.ResumeTiming();
      }
      checkpointer.save(suite().next_step(s));
      checkpointer.wait();  // throws the save's error
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(suite().state_bytes()));
}

void time_durable_writes(benchmark::State& state, const std::string& folder,
                         const std::string& suffix,
                         const std::function<void(const std::string&)>& write_file) {
  const std::string path = suite().folder() + "/" + folder;
  static std::map<std::string, long> writes;  // per folder, across repetitions
  try {
    std::filesystem::create_directories(path);
    for (auto _ : state) {
      write_file(path + "/state." + std::to_string(writes[folder]++ % 2) + suffix);
      fsync_folder(path);
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(suite().state_bytes()));
}

}  // namespace strata::bench::checkpoint
