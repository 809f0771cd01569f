// SPDX-License-Identifier: Apache-2.0
// Synthetic dataset generation: per-chunk xoshiro256+ streams (seeded through splitmix64 from
// seed, array and chunk), values produced straight into chunk buffers and written in parallel.
#include "strata/io/dataset/synthetic.hpp"

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "strata/io/format/strata_writer.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/machine/topology.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata::io {
namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256+ (Blackman and Vigna): fast, and good in the high bits that make doubles.
class Xoshiro {
 public:
  Xoshiro(std::uint64_t seed, std::uint64_t array, std::uint64_t chunk) {
    std::uint64_t state = seed ^ (array << 56) ^ (chunk * 0x2545f4914f6cdd1dULL);
    for (auto& word : s_) word = splitmix64(state);
  }
  std::uint64_t next() noexcept {
    const std::uint64_t result = s_[0] + s_[3];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = (s_[3] << 45) | (s_[3] >> 19);
    return result;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Two independent standard normals by Box-Muller.
  std::pair<double, double> normal_pair() noexcept {
    double r = std::sqrt(-2.0 * std::log(1.0 - uniform()));  // 1 - u is in (0, 1]
    double theta = 2.0 * std::numbers::pi * uniform();
    return {r * std::cos(theta), r * std::sin(theta)};
  }

 private:
  std::uint64_t s_[4];
};

template <class T>
void fill_values(std::span<std::byte> out, Xoshiro& rng, const SyntheticOptions& o) {
  T* values = reinterpret_cast<T*>(out.data());
  std::size_t n = out.size() / sizeof(T);
  const double mean = (o.low + o.high) / 2, sd = (o.high - o.low) / 8, width = o.high - o.low;
  auto store = [&](std::size_t i, double v) {
    if constexpr (std::is_integral_v<T>) v = std::clamp(std::floor(v), o.low, o.high - 1);
    values[i] = static_cast<T>(v);
  };
  if (o.kind == SyntheticKind::normal) {
    for (std::size_t i = 0; i < n; i += 2) {
      auto [a, b] = rng.normal_pair();
      store(i, mean + sd * a);
      if (i + 1 < n) store(i + 1, mean + sd * b);
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) store(i, o.low + width * rng.uniform());
  }
}

void fill_chunk(std::size_t array, std::uint64_t first_byte, std::span<std::byte> out, Xoshiro& rng,
                const SyntheticOptions& o, DType dtype) {
  if (o.kind != SyntheticKind::particles) {
    switch (dtype) {
      case DType::f32: fill_values<float>(out, rng, o); break;
      case DType::f64: fill_values<double>(out, rng, o); break;
      case DType::i8: fill_values<std::int8_t>(out, rng, o); break;
      case DType::i16: fill_values<std::int16_t>(out, rng, o); break;
      case DType::i32: fill_values<std::int32_t>(out, rng, o); break;
      case DType::i64: fill_values<std::int64_t>(out, rng, o); break;
      case DType::u8: fill_values<std::uint8_t>(out, rng, o); break;
      case DType::u16: fill_values<std::uint16_t>(out, rng, o); break;
      case DType::u32: fill_values<std::uint32_t>(out, rng, o); break;
      case DType::u64: fill_values<std::uint64_t>(out, rng, o); break;
    }
    return;
  }
  switch (array) {
    case 0: {  // position: uniform in a box [low, high)^3
      auto* p = reinterpret_cast<double*>(out.data());
      for (std::size_t i = 0; i < out.size() / 8; ++i) p[i] = o.low + (o.high - o.low) * rng.uniform();
      break;
    }
    case 1: {  // velocity: Maxwellian components
      auto* v = reinterpret_cast<float*>(out.data());
      for (std::size_t i = 0; i < out.size() / 4; i += 2) {
        auto [a, b] = rng.normal_pair();
        v[i] = static_cast<float>(a);
        if (i + 1 < out.size() / 4) v[i + 1] = static_cast<float>(b);
      }
      break;
    }
    case 2: {  // energy: exponential with mean (high - low) / 10, shifted by low
      auto* e = reinterpret_cast<double*>(out.data());
      for (std::size_t i = 0; i < out.size() / 8; ++i) {
        e[i] = o.low - (o.high - o.low) / 10 * std::log(1.0 - rng.uniform());
      }
      break;
    }
    default: {  // id: the particle's index
      auto* id = reinterpret_cast<std::uint64_t*>(out.data());
      std::uint64_t first = first_byte / 8;
      for (std::size_t i = 0; i < out.size() / 8; ++i) id[i] = first + i;
    }
  }
}

}  // namespace

std::string_view to_string(SyntheticKind kind) noexcept {
  switch (kind) {
    case SyntheticKind::uniform: return "uniform";
    case SyntheticKind::normal: return "normal";
    case SyntheticKind::particles: return "particles";
  }
  return "unknown";
}

SyntheticKind parse_synthetic_kind(std::string_view text) {
  for (auto k : {SyntheticKind::uniform, SyntheticKind::normal, SyntheticKind::particles}) {
    if (text == to_string(k)) return k;
  }
  throw Error(ErrorCategory::invalid_argument, "unknown kind (use uniform, normal or particles)",
              {{"kind", std::string(text)}});
}

SyntheticResult generate_dataset(const std::string& path, const SyntheticOptions& o) {
  if (!(o.low < o.high)) {
    throw Error(ErrorCategory::invalid_argument, "range must have low < high",
                {{"low", std::to_string(o.low)}, {"high", std::to_string(o.high)}});
  }
  // Checked before anything is written, and counted as an Executor counts its threads.
  const unsigned threads = Executor::resolve_threads(Topology::load(), o.threads);
  std::vector<ArraySpec> specs;
  SyntheticResult result;
  if (o.kind == SyntheticKind::particles) {
    constexpr std::uint64_t particle_bytes = 3 * 8 + 3 * 4 + 8 + 8;
    std::uint64_t n = std::max<std::uint64_t>(1, o.bytes / particle_bytes);
    specs = {{"position", DType::f64, {n, 3}, o.chunk_bytes},
             {"velocity", DType::f32, {n, 3}, o.chunk_bytes},
             {"energy", DType::f64, {n}, o.chunk_bytes},
             {"id", DType::u64, {n}, o.chunk_bytes}};
    result.elements = n;
  } else {
    std::uint64_t n = std::max<std::uint64_t>(1, o.bytes / dtype_bytes(o.dtype));
    if (o.dtype != DType::f32 && o.dtype != DType::f64) {
      // The integer range must be representable, or the clamp above would wrap.
      double lo = 0, hi = 0;
      switch (o.dtype) {
        case DType::i8: lo = -128; hi = 127; break;
        case DType::i16: lo = -32768; hi = 32767; break;
        case DType::i32: lo = -2147483648.0; hi = 2147483647.0; break;
        case DType::u8: hi = 255; break;
        case DType::u16: hi = 65535; break;
        case DType::u32: hi = 4294967295.0; break;
        case DType::u64: hi = 1.8e19; break;
        default: lo = -9.2e18; hi = 9.2e18; break;
      }
      if (o.low < lo || o.high - 1 > hi) {
        throw Error(ErrorCategory::invalid_argument, "range does not fit the dtype",
                    {{"dtype", std::string(to_string(o.dtype))}});
      }
    }
    specs = {{"values", o.dtype, {n}, o.chunk_bytes}};
    result.elements = n;
  }
  Metadata metadata{{"generator", "strata gen"},
                    {"kind", std::string(to_string(o.kind))},
                    {"seed", std::to_string(o.seed)},
                    {"low", std::to_string(o.low)},
                    {"high", std::to_string(o.high)}};
  StrataWriter writer(path, specs, metadata, "strata gen");

  struct Task {
    std::size_t array;
    std::uint64_t chunk;
  };
  std::vector<Task> tasks;
  std::uint64_t total = 0;
  for (std::size_t a = 0; a < writer.arrays().size(); ++a) {
    for (std::uint64_t c = 0; c < writer.arrays()[a].chunk_count; ++c) tasks.push_back({a, c});
    total += writer.arrays()[a].data_bytes;
  }
  if (o.progress != nullptr) o.progress->add_total(total);
  auto run = [&] {
    tbb::parallel_for(std::size_t{0}, tasks.size(), [&](std::size_t t) {
      const ArrayInfo& a = writer.arrays()[tasks[t].array];
      std::uint64_t first = tasks[t].chunk * a.chunk_bytes;
      std::vector<std::byte> buffer(std::min(a.chunk_bytes, a.data_bytes - first));
      Xoshiro rng(o.seed, tasks[t].array, tasks[t].chunk);
      fill_chunk(tasks[t].array, first, buffer, rng, o, a.dtype);
      writer.write_chunk(tasks[t].array, tasks[t].chunk, buffer);
      if (o.progress != nullptr) o.progress->add(buffer.size());
    });
  };
  tbb::task_arena arena(static_cast<int>(threads));
  arena.execute(run);
  writer.finish();
  result.bytes = total;
  return result;
}

}  // namespace strata::io
