// time_committed_saves (timed_save.hpp): save() + wait() per iteration, errors reported as the
// case's error.
#include "timed_save.hpp"

#include <cstdint>
#include <exception>

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

}  // namespace strata::bench::checkpoint
