// SPDX-License-Identifier: Apache-2.0
// The ranks' own records of a checkpoint manifest, measured without MPI (only in the 1-rank run)
// at P ranks of the tiny state (one region, one 512-byte row per rank): what every rank decodes
// at restore and rank 0 builds at commit, as format 3's JSON and format 4's binary rank table, in
// the same binary and run; baseline: a memcpy of the manifest's bytes.
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_manifest.hpp"
#include "common/run_settings.hpp"
#include "scale_settings.hpp"

namespace strata::bench::scale {
namespace {

namespace d = io::detail;

// A committed step of P ranks in `version`: region "u" f64 [P, 64], rank r holding row r.
d::Manifest step_of(int ranks, int version) {
  d::Manifest m;
  m.version = version;
  m.step = 42;
  m.ranks = ranks;
  m.created = "2026-12-07T21:00:00Z";
  m.run = "bench";
  m.codec = io::zstd(1);
  d::RegionRecord u;
  u.name = "u";
  u.dtype = DType::f64;
  u.global_shape = Shape{static_cast<std::size_t>(ranks), static_cast<std::size_t>(state_values)};
  u.chunk_bytes = std::size_t{4} << 20;
  static const char kHex[] = "0123456789abcdef";
  for (int r = 0; r < ranks; ++r) {
    u.blocks.push_back({r, static_cast<std::uint64_t>(r), 1, 1, {}});
    std::string digest(64, '0');
    for (std::size_t i = 0; i < digest.size(); ++i) {
      digest[i] = kHex[(static_cast<std::size_t>(r) * 7 + i * 13) % 16];
    }
    m.shards.push_back({r, 1024 + static_cast<std::uint64_t>(r % 97), digest});
  }
  m.regions.push_back(std::move(u));
  return m;
}

// Rank r's part of the step as save_pipeline builds it: every rank's shard record (placeholders
// but its own), its own block.
d::Manifest part_of(const d::Manifest& whole, int rank) {
  d::Manifest part = whole;
  for (int r = 0; r < whole.ranks; ++r) {
    if (r != rank) part.shards[static_cast<std::size_t>(r)] = {r, 64, std::string(64, '0')};
  }
  part.regions[0].blocks = {whole.regions[0].blocks[static_cast<std::size_t>(rank)]};
  return part;
}

struct Records {
  d::Manifest manifest;
  std::string text;
  std::vector<std::string> parts;  // format 4 only: every rank's commit message
  std::size_t format3_part_bytes = 0;
};

const Records& records(int ranks, int version) {
  static std::vector<std::unique_ptr<Records>> made;
  for (const auto& r : made) {
    if (r->manifest.ranks == ranks && r->manifest.version == version) return *r;
  }
  auto r = std::make_unique<Records>();
  r->manifest = step_of(ranks, version);
  r->text = d::encode_manifest(r->manifest);
  if (version == 4) {
    // One part reused for every rank (a copy per rank would take O(P^2) to make).
    d::Manifest part = part_of(r->manifest, 0);
    for (int k = 0; k < ranks; ++k) {
      const auto at = static_cast<std::size_t>(k);
      part.shards[at] = r->manifest.shards[at];
      part.regions[0].blocks = {r->manifest.regions[0].blocks[at]};
      r->parts.push_back(d::encode_rank_part(part, k));
      part.shards[at] = {k, 64, std::string(64, '0')};
    }
  } else {
    // What one rank sent rank 0 in format 3: its part as JSON, every rank's shard record in it.
    d::Manifest part = part_of(r->manifest, ranks - 1);
    r->format3_part_bytes =
        d::encode_manifest(part, std::numeric_limits<std::uint64_t>::max()).size();
  }
  made.push_back(std::move(r));
  return *made.back();
}

void set_counters(benchmark::State& state, const Records& r) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * r.text.size()));
  state.counters["manifest_bytes"] = static_cast<double>(r.text.size());
  state.counters["ranks"] = r.manifest.ranks;
  if (r.format3_part_bytes != 0) {
    state.counters["part_bytes"] = static_cast<double>(r.format3_part_bytes);
  }
  if (!r.parts.empty()) state.counters["part_bytes"] = static_cast<double>(r.parts.back().size());
}

void records_copy(benchmark::State& state, int ranks) {
  const Records& r = records(ranks, 4);
  std::vector<char> out(r.text.size());
  for (auto _ : state) {
    std::memcpy(out.data(), r.text.data(), r.text.size());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, r);
  label_ratio(state, "", true);
}

// Every rank at restore: the SHA-256 checks, the JSON, and every rank's records decoded.
void records_decode(benchmark::State& state, int ranks, int version, const std::string& base) {
  const Records& r = records(ranks, version);
  for (auto _ : state) {
    d::Manifest m = d::decode_manifest(r.text, "bench");
    if (m.shards.size() != static_cast<std::size_t>(ranks)) throw std::runtime_error("short");
    benchmark::DoNotOptimize(m.shards.data());
  }
  set_counters(state, r);
  label_ratio(state, base.c_str(), false);
}

void records_encode(benchmark::State& state, int ranks, int version, const std::string& base) {
  const Records& r = records(ranks, version);
  for (auto _ : state) {
    std::string text = d::encode_manifest(r.manifest);
    if (text.size() != r.text.size()) throw std::runtime_error("another size");
    benchmark::DoNotOptimize(text.data());
  }
  set_counters(state, r);
  label_ratio(state, base.c_str(), false);
}

// Rank 0 at a format 4 commit, after the gather: every rank's message merged (regions compared,
// records copied and checked, blocks' tiling) and the manifest encoded.
void records_commit(benchmark::State& state, int ranks, const std::string& base) {
  const Records& r = records(ranks, 4);
  for (auto _ : state) {
    d::Manifest m = d::merge_rank_parts(42, ranks, io::zstd(1), r.parts);
    m.created = r.manifest.created;  // as commit.cpp stamps the run; the time fixed to compare
    m.run = r.manifest.run;
    std::string text = d::encode_manifest(m);
    if (text.size() != r.text.size()) throw std::runtime_error("another size");
    benchmark::DoNotOptimize(text.data());
  }
  set_counters(state, r);
  label_ratio(state, base.c_str(), false);
}

}  // namespace

void register_record_cases() {
  for (const int ranks : {4096, 131072}) {
    const std::string at = "/ranks:" + std::to_string(ranks);
    const std::string base = timed_name_local("records_copy" + at, local_iterations);
    apply_timed_settings(
        benchmark::RegisterBenchmark(("records_copy" + at).c_str(),
                                     [ranks](benchmark::State& s) { records_copy(s, ranks); }),
        local_iterations);
    // Format 3's JSON only at 4,096 ranks: at 131,072 one decode takes seconds.
    for (const int version : ranks == 4096 ? std::vector<int>{3, 4} : std::vector<int>{4}) {
      const std::string kind = version == 3 ? "json" : "binary";
      apply_timed_settings(
          benchmark::RegisterBenchmark(("records_" + kind + "_decode" + at).c_str(),
                                       [ranks, version, base](benchmark::State& s) {
                                         records_decode(s, ranks, version, base);
                                       }),
          local_iterations);
      apply_timed_settings(
          benchmark::RegisterBenchmark(("records_" + kind + "_encode" + at).c_str(),
                                       [ranks, version, base](benchmark::State& s) {
                                         records_encode(s, ranks, version, base);
                                       }),
          local_iterations);
    }
    apply_timed_settings(benchmark::RegisterBenchmark(("records_binary_commit" + at).c_str(),
                                                      [ranks, base](benchmark::State& s) {
                                                        records_commit(s, ranks, base);
                                                      }),
                         local_iterations);
  }
}

}  // namespace strata::bench::scale
