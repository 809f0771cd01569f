// SPDX-License-Identifier: Apache-2.0
// Synthetic datasets for demos, tests and benchmarks: uniform or normal values, or particle-like
// records (position, velocity, energy, id), any size, generated in parallel and written as a
// `.strata` file. Each chunk draws from its own generator seeded by (seed, array, chunk), so the
// bytes depend on the seed alone — not on the thread count or the order chunks are written.
//
//   strata::io::generate_dataset("demo.strata", {.kind = strata::io::SyntheticKind::normal,
//                                                 .bytes = 2ull << 30, .seed = 7});
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "strata/runtime/base/dtype.hpp"
#include "strata/runtime/base/progress.hpp"

namespace strata::io {

enum class SyntheticKind {
  uniform,    // array "values": uniform in [low, high)
  normal,     // array "values": normal with mean (low + high) / 2 and sd (high - low) / 8
  particles,  // arrays "position" [n,3] f64, "velocity" [n,3] f32, "energy" [n] f64, "id" [n] u64
};
std::string_view to_string(SyntheticKind kind) noexcept;
// "uniform" | "normal" | "particles"; Error(invalid_argument) otherwise.
SyntheticKind parse_synthetic_kind(std::string_view text);

struct SyntheticOptions {
  SyntheticKind kind = SyntheticKind::uniform;
  // Approximate total bytes of array data (rounded down to whole elements or particles; at least one).
  std::uint64_t bytes = std::uint64_t{64} << 20;
  // Element type of "values" (uniform/normal); integers get values rounded into [low, high).
  DType dtype = DType::f64;
  double low = 0.0;
  double high = 100.0;
  std::uint64_t seed = 1;
  std::uint64_t chunk_bytes = std::uint64_t{4} << 20;
  // Worker threads, counted as Executor::resolve_threads counts them: 0 means STRATA_THREADS, or
  // else one per CPU this process may use; more than 16 per allowed CPU is an error.
  unsigned threads = 0;
  // When set, gets the total bytes of array data and every chunk's bytes once written (from the
  // worker threads), for a ProgressReport.
  Progress* progress = nullptr;
};

struct SyntheticResult {
  std::uint64_t bytes = 0;     // array data written
  std::uint64_t elements = 0;  // values, or particles
};

// Writes the dataset to `path` (atomically, through StrataWriter). Errors of StrataWriter;
// Error(invalid_argument) for low >= high, a dtype that cannot hold the range or too many threads
// (Error(config) when the count came from STRATA_THREADS), before anything is written.
SyntheticResult generate_dataset(const std::string& path, const SyntheticOptions& options);

}  // namespace strata::io
