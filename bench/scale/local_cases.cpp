// SPDX-License-Identifier: Apache-2.0
// The per-rank constants of the steps that grow with the rank count on one rank, measured
// without MPI (only in the 1-rank run): folding P ranks' partial results, as MpiContext::allreduce
// did on every rank after its allgather before it merged along a tree, and one merge of that tree
// (fold_tree_steps), against a memcpy of the same bytes; parsing a manifest of many records, as
// rank 0 does at commit and every rank at restore, against reading its bytes; and decoding a
// shard's chunk index, as a rank does for its rows at restore, against reading the index's bytes.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "checkpoint/checkpoint_manifest.hpp"
#include "checkpoint/shard_index.hpp"
#include "common/run_settings.hpp"
#include "scale_settings.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"
#include "strata/kernels/histogram.hpp"
#include "strata/kernels/stats.hpp"

namespace strata::bench::scale {
namespace {

// The wire images of `fold_partials` ranks' results: a Stats's bytes, then a histogram's.
struct PartialImages {
  std::vector<std::vector<std::byte>> stats;
  std::vector<std::vector<std::byte>> histograms;
  std::size_t bytes = 0;
};

const PartialImages& partial_images() {
  static const PartialImages images = [] {
    PartialImages p;
    for (int r = 0; r < fold_partials; ++r) {
      kernels::Stats s;
      kernels::Histogram h(0.0, 1.0, histogram_bins);
      const double values[4] = {0.1 * (r % 10), 0.25, 0.5, 0.75 + 0.001 * (r % 100)};
      s.add(std::span<const double>(values));
      h.add(std::span<const double>(values));
      const auto* first = reinterpret_cast<const std::byte*>(&s);
      p.stats.emplace_back(first, first + sizeof s);
      p.histograms.push_back(h.serialize());
      p.bytes += p.stats.back().size() + p.histograms.back().size();
    }
    return p;
  }();
  return images;
}

void fold_copy(benchmark::State& state) {
  const PartialImages& p = partial_images();
  std::vector<std::byte> out(p.bytes);
  for (auto _ : state) {
    std::size_t at = 0;
    for (int r = 0; r < fold_partials; ++r) {
      std::memcpy(out.data() + at, p.stats[r].data(), p.stats[r].size());
      at += p.stats[r].size();
      std::memcpy(out.data() + at, p.histograms[r].data(), p.histograms[r].size());
      at += p.histograms[r].size();
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * p.bytes));
  label_ratio(state, "", true);
}

// What MpiContext::allreduce did with the gathered images before the tree, for both results.
void fold_merge(benchmark::State& state, const std::string& baseline) {
  const PartialImages& p = partial_images();
  for (auto _ : state) {
    kernels::Stats s;
    std::memcpy(&s, p.stats[0].data(), sizeof s);
    kernels::Histogram h = kernels::Histogram::deserialize(p.histograms[0]);
    for (int r = 1; r < fold_partials; ++r) {
      kernels::Stats other;
      std::memcpy(&other, p.stats[r].data(), sizeof other);
      s.merge(other);
      h.merge(kernels::Histogram::deserialize(p.histograms[r]));
    }
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * p.bytes));
  state.counters["partials"] = fold_partials;
  label_ratio(state, baseline.c_str(), false);
}

// What one merge of the ranks' tree in MpiContext::allreduce costs the rank that merges, for both
// results (the lambdas allreduce hands merge_tree_bytes): the Stats copied out of and back into
// its bytes around merge; the histogram deserialized on both sides, merged and serialized again.
// fold_partials - 1 such merges, each of the running result with the next image, as a tree of
// that many ranks does in all (the rank on the longest path does log2 of them).
void fold_tree_steps(benchmark::State& state, const std::string& baseline) {
  const PartialImages& p = partial_images();
  for (auto _ : state) {
    std::vector<std::byte> stats = p.stats[0];
    std::vector<std::byte> histogram = p.histograms[0];
    for (int r = 1; r < fold_partials; ++r) {
      kernels::Stats left;
      kernels::Stats right;
      std::memcpy(&left, stats.data(), sizeof left);
      std::memcpy(&right, p.stats[r].data(), sizeof right);
      left.merge(right);
      std::memcpy(stats.data(), &left, sizeof left);
      kernels::Histogram h = kernels::Histogram::deserialize(histogram);
      h.merge(kernels::Histogram::deserialize(p.histograms[r]));
      histogram = h.serialize();
    }
    benchmark::DoNotOptimize(stats.data());
    benchmark::DoNotOptimize(histogram.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * p.bytes));
  state.counters["partials"] = fold_partials;
  label_ratio(state, baseline.c_str(), false);
}

// One committed checkpoint of manifest_records regions of manifest_chunks chunks in all (raw, so
// the save is quick), made once: its manifest holds a record per region, its shard the index.
struct ManifestFolder {
  std::string folder;
  std::string manifest;
  std::size_t manifest_bytes = 0;
  std::string shard;
  std::uint64_t shard_bytes = 0;
  std::uint64_t index_offset = 0;
};

const ManifestFolder& manifest_folder() {
  static const ManifestFolder made = [] {
    ManifestFolder m;
    m.folder = scratch_folder() + "/manifest";
    std::vector<std::uint8_t> state(std::size_t{manifest_chunks} * manifest_chunk_bytes, 1);
    io::CheckpointOptions o;
    o.dir = m.folder;
    o.codec = io::no_compression();
    o.incremental = false;
    o.chunk_bytes = manifest_chunk_bytes;
    {
      io::Checkpointer ck(runtime(), executor(), o);
      const std::size_t rows = manifest_chunks / manifest_records;
      for (std::size_t r = 0; r < manifest_records; ++r) {
        std::span<std::uint8_t> part(state.data() + r * rows * manifest_chunk_bytes,
                                     rows * manifest_chunk_bytes);
        ck.protect("region-" + std::to_string(r), part,
                   io::GlobalBlock{Shape{rows, manifest_chunk_bytes}, 0});
      }
      ck.save(1);
      ck.wait();
    }
    m.manifest = io::detail::manifest_path(m.folder, 1);
    m.manifest_bytes = std::filesystem::file_size(m.manifest);
    m.shard = io::detail::shard_path(m.folder, 1, 0);
    m.shard_bytes = std::filesystem::file_size(m.shard);
    const int fd = ::open(m.shard.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + m.shard);
    m.index_offset = io::detail::read_shard_index(fd, m.shard_bytes, 1, 0, m.shard).offset;
    ::close(fd);
    return m;
  }();
  return made;
}

// pread of the shard's index bytes (what a rank reads of a shard to plan its restore).
void index_read(benchmark::State& state) {
  const ManifestFolder& m = manifest_folder();
  std::vector<char> buffer(m.shard_bytes - m.index_offset);
  for (auto _ : state) {
    const int fd = ::open(m.shard.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + m.shard);
    const ssize_t got =
        ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(m.index_offset));
    ::close(fd);
    if (got != static_cast<ssize_t>(buffer.size())) throw std::runtime_error("short index read");
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buffer.size()));
  label_ratio(state, "", true);
}

// What a rank does with a shard's chunk index at restore (StepReader): the file's tail read, every
// field checked, the entries decoded, the index's SHA-256 taken for the shard digest.
void index_decode(benchmark::State& state, const std::string& baseline) {
  const ManifestFolder& m = manifest_folder();
  for (auto _ : state) {
    const int fd = ::open(m.shard.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + m.shard);
    std::array<std::byte, 32> digest{};
    io::detail::ShardIndex index =
        io::detail::read_shard_index(fd, m.shard_bytes, 1, 0, m.shard, &digest);
    ::close(fd);
    if (index.entries.size() != manifest_chunks) throw std::runtime_error("short index");
    benchmark::DoNotOptimize(index.entries.data());
  }
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * (m.shard_bytes - m.index_offset)));
  state.counters["index_bytes"] = static_cast<double>(m.shard_bytes - m.index_offset);
  state.counters["chunk_entries"] = manifest_chunks;
  label_ratio(state, baseline.c_str(), false);
}

void manifest_read(benchmark::State& state) {
  const ManifestFolder& m = manifest_folder();
  std::vector<char> buffer(m.manifest_bytes);
  for (auto _ : state) {
    const int fd = ::open(m.manifest.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + m.manifest);
    const ssize_t got = ::pread(fd, buffer.data(), buffer.size(), 0);
    ::close(fd);
    if (got != static_cast<ssize_t>(buffer.size())) throw std::runtime_error("short manifest read");
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * m.manifest_bytes));
  label_ratio(state, "", true);
}

// list_checkpoints() reads, checks (SHA-256) and decodes every manifest of the folder: here one,
// of manifest_records region records with a block record each (a rank's records are a shard
// record and a block record per region: the same kind of JSON).
void manifest_parse(benchmark::State& state, const std::string& baseline) {
  const ManifestFolder& m = manifest_folder();
  for (auto _ : state) {
    auto found = io::list_checkpoints(m.folder);
    if (found.size() != 1) throw std::runtime_error("expected one checkpoint in " + m.folder);
    benchmark::DoNotOptimize(found);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * m.manifest_bytes));
  state.counters["manifest_bytes"] = static_cast<double>(m.manifest_bytes);
  state.counters["records"] = manifest_records;
  label_ratio(state, baseline.c_str(), false);
}

}  // namespace

void register_local_cases() {
  const std::string fold_base =
      timed_name_local("fold_copy/partials:" + std::to_string(fold_partials), local_iterations);
  apply_timed_settings(
      benchmark::RegisterBenchmark(("fold_copy/partials:" + std::to_string(fold_partials)).c_str(),
                                   fold_copy),
      local_iterations);
  apply_timed_settings(
      benchmark::RegisterBenchmark(("fold_merge/partials:" + std::to_string(fold_partials)).c_str(),
                                   [fold_base](benchmark::State& s) { fold_merge(s, fold_base); }),
      local_iterations);
  apply_timed_settings(benchmark::RegisterBenchmark(
                           ("fold_tree_steps/partials:" + std::to_string(fold_partials)).c_str(),
                           [fold_base](benchmark::State& s) { fold_tree_steps(s, fold_base); }),
                       local_iterations);
  const std::string records = "/records:" + std::to_string(manifest_records);
  const std::string read_base = timed_name_local("manifest_read" + records, local_iterations);
  apply_timed_settings(
      benchmark::RegisterBenchmark(("manifest_read" + records).c_str(), manifest_read),
      local_iterations);
  apply_timed_settings(benchmark::RegisterBenchmark(
                           ("manifest_parse" + records).c_str(),
                           [read_base](benchmark::State& s) { manifest_parse(s, read_base); }),
                       local_iterations);
  const std::string chunks = "/chunks:" + std::to_string(manifest_chunks);
  const std::string index_base = timed_name_local("index_read" + chunks, local_iterations);
  apply_timed_settings(benchmark::RegisterBenchmark(("index_read" + chunks).c_str(), index_read),
                       local_iterations);
  apply_timed_settings(benchmark::RegisterBenchmark(
                           ("index_decode" + chunks).c_str(),
                           [index_base](benchmark::State& s) { index_decode(s, index_base); }),
                       local_iterations);
}

}  // namespace strata::bench::scale
