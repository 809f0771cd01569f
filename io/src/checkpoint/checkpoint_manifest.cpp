// SPDX-License-Identifier: Apache-2.0
// The checkpoint manifest as JSON (nlohmann) and, from format 4, the binary rank table after it;
// their validation; and the folder names of a checkpoint store. The manifest is one line
// {"sha256": <of the body's compact dump>, "manifest": <body>} (format 4: then the rank table,
// whose size and SHA-256 the body holds), so a truncated or edited manifest is detected before any
// of its numbers are trusted.
#include "checkpoint/checkpoint_manifest.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <tuple>
#include <utility>

#include "checkpoint/rank_table.hpp"
#include "checksum/sha256.hpp"
#include "files/file_io.hpp"
#include "format/byte_fields.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kStepDigits = 8;

std::string padded(long value, int width) {
  std::string digits = std::to_string(value);
  if (static_cast<int>(digits.size()) < width) {
    digits.insert(0, static_cast<std::size_t>(width - static_cast<int>(digits.size())), '0');
  }
  return digits;
}

[[noreturn]] void bad(const std::string& file, const std::string& field, const std::string& what) {
  throw Error(ErrorCategory::corrupt_data, "checkpoint manifest: " + what,
              {{"file", file}, {"field", field}});
}

// A step folder name "step-<digits>" (optionally with `suffix`) → its step; nullopt otherwise.
std::optional<long> parse_step_name(const std::string& name, const std::string& suffix) {
  constexpr std::string_view prefix = "step-";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return std::nullopt;
  const char* first = name.data() + prefix.size();
  const char* last = name.data() + name.size() - suffix.size();
  if (!std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  long step = 0;
  auto [end, ec] = std::from_chars(first, last, step);
  if (ec != std::errc() || end != last) return std::nullopt;
  // Only the name step_folder() gives is a step: step-40 or step-0000000040 beside step-00000040
  // would otherwise count the same step twice (and shrink retention).
  if (static_cast<std::size_t>(last - first) != padded(step, kStepDigits).size())
    return std::nullopt;
  return step;
}

std::vector<long> scan(const std::string& dir, const std::string& suffix) {
  std::vector<long> steps;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return steps;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    throw Error(ErrorCategory::io, "cannot read checkpoint folder: " + ec.message(),
                {{"folder", dir}});
  }
  for (const auto& entry : it) {
    if (!entry.is_directory(ec)) continue;
    if (auto step = parse_step_name(entry.path().filename().string(), suffix)) steps.push_back(*step);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

const char* codec_name(Codec::Kind kind, bool shuffled) {
  if (kind == Codec::Kind::none) return "none";
  return shuffled ? "zstd+shuffle" : "zstd";
}

// "none", "zstd" or "zstd+shuffle" → (kind, shuffled).
std::pair<Codec::Kind, bool> parse_codec(const std::string& text, const std::string& file,
                                         const std::string& field) {
  if (text == "zstd") return {Codec::Kind::zstd, false};
  if (text == "zstd+shuffle") return {Codec::Kind::zstd, true};
  if (text == "none") return {Codec::Kind::none, false};
  bad(file, field, "unknown codec '" + text + "'");
}

// A region's step-wide fields (the same on every rank).
json region_head(const RegionRecord& r) {
  json shape = json::array();
  for (std::size_t extent : r.global_shape) shape.push_back(extent);
  return {{"name", r.name},
          {"dtype", std::string(to_string(r.dtype))},
          {"global_shape", std::move(shape)},
          {"rank_local", r.rank_local},
          {"chunk_bytes", r.chunk_bytes}};
}

json region_heads(const Manifest& m) {
  json regions = json::array();
  for (const RegionRecord& r : m.regions) regions.push_back(region_head(r));
  return regions;
}

// The fields every manifest version's body opens with, `regions` as that version writes them.
json step_fields(const Manifest& m, json regions) {
  return {{"format", "strata-checkpoint"},
          {"version", m.version},
          {"step", m.step},
          {"ranks", m.ranks},
          {"created", m.created},
          {"run", m.run},
          {"codec", codec_name(m.codec.kind, m.codec.shuffle)},
          {"level", m.codec.level},
          {"depends_on", m.depends_on},
          {"regions", std::move(regions)}};
}

// The body of a format 4 manifest: the step-wide fields, the distinct node names, and the seal of
// the rank table that follows the JSON line.
json encode_body_v4(const Manifest& m, std::span<const std::byte> table,
                    const std::vector<std::string>& node_names) {
  json body = step_fields(m, region_heads(m));
  body["rank_table"] = {{"bytes", table.size()},
                        {"record_bytes", rank_record_bytes(m.regions.size())},
                        {"sha256", sha256_hex(table)}};
  if (!node_names.empty()) body["nodes"] = node_names;
  return body;
}

json encode_body(const Manifest& m) {
  json regions = json::array();
  for (const RegionRecord& r : m.regions) {
    json blocks = json::array();
    for (const BlockRecord& b : r.blocks) {
      json chunks = b.chunk_count;
      if (m.version == 2) {
        chunks = json::array();
        for (const ChunkRef& c : b.chunks) {
          chunks.push_back({c.raw_bytes, c.raw_hash, c.step, c.rank,
                            codec_name(c.codec, c.shuffled), c.offset, c.stored_bytes});
        }
      }
      blocks.push_back({{"rank", b.rank}, {"first_row", b.first_row}, {"rows", b.rows},
                        {"chunks", std::move(chunks)}});
    }
    json region = region_head(r);
    region["blocks"] = std::move(blocks);
    regions.push_back(std::move(region));
  }
  json shards = json::array();
  for (const ShardRecord& s : m.shards) {
    shards.push_back({{"rank", s.rank}, {"file", shard_name(s.rank)}, {"bytes", s.bytes},
                      {"sha256", s.sha256}});
  }
  json body = step_fields(m, std::move(regions));
  body["shards"] = std::move(shards);
  if (!m.nodes.empty()) body["nodes"] = m.nodes;
  return body;
}

// Typed field access that turns every missing or mistyped field into a corrupt_data error.
struct FieldReader {
  const std::string& file;

  const json& at(const json& j, const char* key, const std::string& where) const {
    if (!j.is_object() || !j.contains(key)) bad(file, where + key, "field missing");
    return j.at(key);
  }
  std::uint64_t u64(const json& j, const std::string& field, std::uint64_t max) const {
    if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<std::int64_t>() >= 0)) {
      bad(file, field, "not a non-negative integer");
    }
    auto v = j.get<std::uint64_t>();
    if (v > max) bad(file, field, "value " + std::to_string(v) + " out of range");
    return v;
  }
  std::string text(const json& j, const std::string& field) const {
    if (!j.is_string()) bad(file, field, "not a string");
    return j.get<std::string>();
  }
};

// A region's blocks must hold each global row exactly once: overlapping or missing rows would
// restore or export silently wrong data. A rank-local region has exactly one block per rank,
// each the whole of its own shape.
// Returns what is wrong, or an empty string.
std::string tiling_problem(const RegionRecord& r, int ranks) {
  const std::uint64_t global_rows = r.global_shape[0];
  if (r.rank_local) {
    std::vector<bool> seen(static_cast<std::size_t>(ranks), false);
    for (const BlockRecord& b : r.blocks) {
      if (b.rank < 0 || b.rank >= ranks || seen[static_cast<std::size_t>(b.rank)] ||
          b.first_row != 0 || b.rows != global_rows) {
        return "rank-local blocks are not one whole block per rank";
      }
      seen[static_cast<std::size_t>(b.rank)] = true;
    }
    if (r.blocks.size() != static_cast<std::size_t>(ranks)) {
      return "rank-local blocks are not one whole block per rank";
    }
    return {};
  }
  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;  // (first_row, rows), rows > 0
  for (const BlockRecord& b : r.blocks) {
    if (b.rows != 0) spans.emplace_back(b.first_row, b.rows);
  }
  // Blocks in rank order are usually in row order too: the sort is then skipped.
  if (!std::is_sorted(spans.begin(), spans.end())) std::sort(spans.begin(), spans.end());
  std::uint64_t next = 0;
  for (const auto& [first, rows] : spans) {
    if (first != next) {
      return std::string(first < next ? "blocks overlap" : "blocks leave rows uncovered") +
             " at row " + std::to_string(std::min(first, next));
    }
    next = first + rows;
  }
  if (next != global_rows) return "blocks leave rows uncovered from row " + std::to_string(next);
  return {};
}

// A region's step-wide fields from its JSON object (`where` prefixes the field names); refused
// when its name repeats one of m's regions.
RegionRecord region_of(const FieldReader& rd, const json& jr, const std::string& where,
                       const Manifest& m) {
  const std::string& file = rd.file;
  RegionRecord r;
  r.name = rd.text(rd.at(jr, "name", where), where + "name");
  if (r.name.empty() || r.name.size() > 255) bad(file, where + "name", "bad region name");
  if (m.find(r.name) != nullptr) bad(file, where + "name", "duplicate region '" + r.name + "'");
  try {
    r.dtype = parse_dtype(rd.text(rd.at(jr, "dtype", where), where + "dtype"));
    const json& shape = rd.at(jr, "global_shape", where);
    if (!shape.is_array() || shape.empty() || shape.size() > Shape::kMaxRank) {
      bad(file, where + "global_shape", "bad shape");
    }
    for (const json& e : shape)
      r.global_shape.push_back(rd.u64(e, where + "global_shape", SIZE_MAX));
    (void)r.global_shape.byte_count(r.dtype);
  } catch (const Error& e) {
    if (e.category() == ErrorCategory::corrupt_data) throw;
    bad(file, where + "dtype/global_shape", e.message());
  }
  const json& local = rd.at(jr, "rank_local", where);
  if (!local.is_boolean()) bad(file, where + "rank_local", "not a boolean");
  r.rank_local = local.get<bool>();
  r.chunk_bytes =
      rd.u64(rd.at(jr, "chunk_bytes", where), where + "chunk_bytes", kMaxCheckpointChunkBytes);
  if (r.chunk_bytes == 0) bad(file, where + "chunk_bytes", "zero chunk size");
  return r;
}

// The regions' step-wide fields from a JSON array (format 4's "regions", a commit message's).
std::vector<RegionRecord> region_heads_of(const FieldReader& rd, const json& regions) {
  if (!regions.is_array()) bad(rd.file, "regions", "not an array");
  Manifest seen;
  for (std::size_t i = 0; i < regions.size(); ++i) {
    seen.regions.push_back(region_of(rd, regions[i], "regions[" + std::to_string(i) + "].", seen));
  }
  return std::move(seen.regions);
}

// Node names from a JSON array, each usable as a folder name.
std::vector<std::string> node_names(const FieldReader& rd, const json& nodes) {
  if (!nodes.is_array()) bad(rd.file, "nodes", "not an array");
  std::vector<std::string> names;
  for (const json& n : nodes) {
    std::string name = rd.text(n, "nodes");
    if (name.empty() || name.size() > 255 || name.find('/') != std::string::npos || name == "." ||
        name == "..") {
      bad(rd.file, "nodes", "bad node name");
    }
    names.push_back(std::move(name));
  }
  return names;
}

// The rest of a format 4 manifest after its common fields: the regions' step-wide fields, the
// distinct node names, and the rank table (`table`, the bytes after the JSON line) checked
// against the body's seal and decoded into the shards, the blocks and the nodes.
void decode_v4(const FieldReader& rd, const json& body, std::span<const std::byte> table,
               Manifest& m) {
  const std::string& file = rd.file;
  m.regions = region_heads_of(rd, rd.at(body, "regions", ""));
  std::vector<std::string> names;
  if (body.contains("nodes")) {
    names = node_names(rd, body.at("nodes"));
    if (names.empty() || names.size() > static_cast<std::size_t>(m.ranks)) {
      bad(file, "nodes", "expected between one node name and one per rank");
    }
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      bad(file, "nodes", "a node name repeats");
    }
  }
  const json& seal = rd.at(body, "rank_table", "");
  const std::uint64_t bytes =
      rd.u64(rd.at(seal, "bytes", "rank_table."), "rank_table.bytes", kMaxManifestBytes);
  if (bytes != table.size()) {
    bad(file, "rank_table.bytes",
        "the table after the JSON line holds " + std::to_string(table.size()) + " bytes, not " +
            std::to_string(bytes) + " (truncated or damaged)");
  }
  if (rd.u64(rd.at(seal, "record_bytes", "rank_table."), "rank_table.record_bytes", UINT32_MAX) !=
      rank_record_bytes(m.regions.size())) {
    bad(file, "rank_table.record_bytes", "not the record width of the regions");
  }
  if (rd.text(rd.at(seal, "sha256", "rank_table."), "rank_table.sha256") != sha256_hex(table)) {
    bad(file, "rank_table.sha256", "SHA-256 of the rank table does not match (damaged)");
  }
  decode_rank_table(table, names, m, file);
  for (std::size_t i = 0; i < m.regions.size(); ++i) {
    if (std::string problem = tiling_problem(m.regions[i], m.ranks); !problem.empty()) {
      bad(file, "regions[" + std::to_string(i) + "].blocks", problem);
    }
  }
}

}  // namespace

const RegionRecord* Manifest::find(const std::string& name) const {
  for (const RegionRecord& r : regions) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::uint64_t Manifest::raw_bytes() const {
  std::uint64_t total = 0;
  for (const RegionRecord& r : regions) {
    for (const BlockRecord& b : r.blocks) total += b.rows * r.row_bytes();
  }
  return total;
}

std::uint64_t Manifest::shard_bytes() const {
  std::uint64_t total = 0;
  for (const ShardRecord& s : shards) total += s.bytes;
  return total;
}

std::string step_folder(const std::string& dir, long step) {
  return (fs::path(dir) / ("step-" + padded(step, kStepDigits))).string();
}

std::string temp_step_folder(const std::string& dir, long step) {
  std::string path = step_folder(dir, step);
  path += ".tmp";
  return path;
}

std::string shard_name(int rank) {
  std::string name = "shard-";
  name += padded(rank, 5);
  name += ".sck";
  return name;
}

std::string shard_path(const std::string& dir, long step, int rank) {
  return (fs::path(step_folder(dir, step)) / shard_name(rank)).string();
}

std::string manifest_path(const std::string& dir, long step) {
  return (fs::path(step_folder(dir, step)) / kManifestName).string();
}

std::vector<long> step_folders(const std::string& dir) { return scan(dir, ""); }

std::vector<long> temp_step_folders(const std::string& dir) { return scan(dir, ".tmp"); }

std::string shard_digest(std::span<const std::byte> header,
                         std::span<const std::array<std::byte, 32>> frame_digests,
                         const std::array<std::byte, 32>* index_digest) {
  Sha256 sha;
  sha.update(header);
  for (const auto& d : frame_digests) sha.update(d);
  if (index_digest != nullptr) sha.update(*index_digest);
  return sha.hex_digest();
}

std::string encode_manifest(const Manifest& manifest, std::uint64_t max_bytes) {
  if (manifest.version < kOldestCheckpointFormatVersion ||
      manifest.version > kCheckpointFormatVersion) {
    throw Error(ErrorCategory::invalid_argument, "no such checkpoint format version",
                {{"version", std::to_string(manifest.version)}});
  }
  std::vector<std::byte> table;
  json body;
  if (manifest.version >= 4) {
    std::vector<std::string> node_names;
    table = encode_rank_table(manifest, node_names);
    body = encode_body_v4(manifest, table, node_names);
  } else {
    body = encode_body(manifest);
  }
  std::string dumped = body.dump();
  json whole = {{"sha256", sha256_hex(std::as_bytes(std::span(dumped.data(), dumped.size())))},
                {"manifest", std::move(body)}};
  std::string text = whole.dump() + "\n";
  text.append(reinterpret_cast<const char*>(table.data()), table.size());
  if (text.size() > max_bytes) {
    std::uint64_t entries = 0;
    std::uint64_t chunk_bytes = 0;
    for (const RegionRecord& r : manifest.regions) {
      chunk_bytes = std::max(chunk_bytes, r.chunk_bytes);
      for (const BlockRecord& b : r.blocks) entries += b.chunk_count;
    }
    // Format 2 listed every chunk (fewer chunks helped); 3 and 4 hold the ranks' records only.
    const std::string what =
        manifest.version == 2
            ? std::to_string(entries) + " chunk entries of " + std::to_string(manifest.ranks) +
                  " ranks), over the " + std::to_string(max_bytes >> 20) +
                  " MiB a restore reads: raise CheckpointOptions::chunk_bytes (now " +
                  std::to_string(chunk_bytes) + ") so the state has fewer chunks"
            : "the records of " + std::to_string(manifest.ranks) + " ranks and " +
                  std::to_string(manifest.regions.size()) + " regions), over the " +
                  std::to_string(max_bytes >> 20) + " MiB a restore reads";
    throw Error(ErrorCategory::resource,
                "the manifest would be " + std::to_string(text.size() >> 20) + " MiB (" + what,
                {{"step", std::to_string(manifest.step)},
                 {"bytes", std::to_string(text.size())},
                 {"limit", std::to_string(max_bytes)}});
  }
  return text;
}

Manifest decode_manifest(const std::string& text, const std::string& file) {
  // nlohmann parses iteratively, but dump() and comparisons recurse: a hostile manifest nested
  // 100,000 deep would overflow the stack. Deeper values are discarded while parsing and the
  // manifest refused; a real one is 6 levels deep.
  bool too_deep = false;
  const json::parser_callback_t depth_limit = [&](int depth, json::parse_event_t, json&) {
    if (depth <= kMaxManifestDepth) return true;
    too_deep = true;
    return false;
  };
  // Format 4: the JSON is the first line and the rank table follows it. Formats 2 and 3 are JSON
  // alone, compact (then nothing follows the line) or, as old steps were written, indented (then
  // the first line is not JSON by itself).
  json whole;
  std::span<const std::byte> table;
  bool has_table = false;
  if (const std::size_t newline = text.find('\n');
      newline != std::string::npos && newline + 1 < text.size()) {
    whole = json::parse(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(newline),
                        depth_limit, /*allow_exceptions=*/false);
    has_table = !whole.is_discarded();
    if (has_table) {
      table = std::as_bytes(std::span(text.data() + newline + 1, text.size() - newline - 1));
    }
  }
  if (!has_table) whole = json::parse(text, depth_limit, /*allow_exceptions=*/false);
  if (too_deep) {
    bad(file, "", "nested deeper than " + std::to_string(kMaxManifestDepth) + " levels (damaged)");
  }
  if (whole.is_discarded()) bad(file, "", "not valid JSON (truncated or damaged)");
  FieldReader rd{file};
  const json& body = rd.at(whole, "manifest", "");
  const std::string dumped = body.dump();
  const std::string expected = rd.text(rd.at(whole, "sha256", ""), "sha256");
  if (sha256_hex(std::as_bytes(std::span(dumped.data(), dumped.size()))) != expected) {
    bad(file, "sha256", "SHA-256 of the manifest body does not match (damaged)");
  }
  if (rd.text(rd.at(body, "format", ""), "format") != "strata-checkpoint") {
    bad(file, "format", "not a strata checkpoint manifest");
  }
  const auto version = rd.u64(rd.at(body, "version", ""), "version", 1000);
  if (version < kOldestCheckpointFormatVersion || version > kCheckpointFormatVersion) {
    bad(file, "version", "unsupported format version " + std::to_string(version));
  }
  Manifest m;
  m.version = static_cast<int>(version);
  m.step = static_cast<long>(rd.u64(rd.at(body, "step", ""), "step", LONG_MAX));
  m.ranks = static_cast<int>(rd.u64(rd.at(body, "ranks", ""), "ranks", kMaxCheckpointRanks));
  if (m.ranks == 0) bad(file, "ranks", "zero ranks");
  m.created = rd.text(rd.at(body, "created", ""), "created");
  m.run = rd.text(rd.at(body, "run", ""), "run");
  if (m.run.size() > 255) bad(file, "run", "run identity longer than 255 bytes");
  std::tie(m.codec.kind, m.codec.shuffle) =
      parse_codec(rd.text(rd.at(body, "codec", ""), "codec"), file, "codec");
  m.codec.level = static_cast<int>(rd.u64(rd.at(body, "level", ""), "level", 22));
  const json& deps = rd.at(body, "depends_on", "");
  if (!deps.is_array()) bad(file, "depends_on", "not an array");
  for (std::size_t i = 0; i < deps.size(); ++i) {
    auto dep = static_cast<long>(rd.u64(deps[i], "depends_on", static_cast<std::uint64_t>(m.step)));
    if (dep >= m.step) bad(file, "depends_on", "a checkpoint can only depend on older steps");
    m.depends_on.push_back(dep);
  }

  if (m.version >= 4) {
    if (!has_table) bad(file, "rank_table", "missing after the JSON line (truncated)");
    decode_v4(rd, body, table, m);
    return m;
  }
  if (has_table) bad(file, "rank_table", "a format 2 or 3 manifest has no rank table");
  if (body.contains("nodes")) {
    m.nodes = node_names(rd, body.at("nodes"));
    if (m.nodes.size() != static_cast<std::size_t>(m.ranks)) {
      bad(file, "nodes", "expected one node name per rank");
    }
  }

  const json& shards = rd.at(body, "shards", "");
  if (!shards.is_array() || shards.size() != static_cast<std::size_t>(m.ranks)) {
    bad(file, "shards", "expected one shard per rank");
  }
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::string where = "shards[" + std::to_string(i) + "].";
    ShardRecord s;
    s.rank = static_cast<int>(rd.u64(rd.at(shards[i], "rank", where), where + "rank", m.ranks - 1));
    if (s.rank != static_cast<int>(i)) bad(file, where + "rank", "shards out of rank order");
    s.bytes = rd.u64(rd.at(shards[i], "bytes", where), where + "bytes", UINT64_MAX);
    if (s.bytes < kShardHeaderBytes) bad(file, where + "bytes", "shard smaller than its header");
    s.sha256 = rd.text(rd.at(shards[i], "sha256", where), where + "sha256");
    if (s.sha256.size() != 64) bad(file, where + "sha256", "not a SHA-256 digest");
    m.shards.push_back(std::move(s));
  }

  const json& regions = rd.at(body, "regions", "");
  if (!regions.is_array()) bad(file, "regions", "not an array");
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const std::string where = "regions[" + std::to_string(i) + "].";
    const json& jr = regions[i];
    RegionRecord r = region_of(rd, jr, where, m);
    const std::uint64_t row_bytes = r.row_bytes();
    const std::uint64_t global_rows = r.global_shape[0];

    const json& blocks = rd.at(jr, "blocks", where);
    if (!blocks.is_array()) bad(file, where + "blocks", "not an array");
    for (std::size_t k = 0; k < blocks.size(); ++k) {
      const std::string bw = where + "blocks[" + std::to_string(k) + "].";
      BlockRecord b;
      b.rank = static_cast<int>(rd.u64(rd.at(blocks[k], "rank", bw), bw + "rank", m.ranks - 1));
      b.first_row = rd.u64(rd.at(blocks[k], "first_row", bw), bw + "first_row", global_rows);
      b.rows = rd.u64(rd.at(blocks[k], "rows", bw), bw + "rows", global_rows - b.first_row);
      const json& chunks = rd.at(blocks[k], "chunks", bw);
      if (m.version == 3) {
        // The entries are in the shard's chunk index; the count is the cut of the block's bytes
        // into chunk_bytes pieces (rows * row_bytes cannot overflow: the shape's bytes did not).
        b.chunk_count = rd.u64(chunks, bw + "chunks", UINT64_MAX);
        const std::uint64_t bytes = b.rows * row_bytes;
        if (b.chunk_count != bytes / r.chunk_bytes + (bytes % r.chunk_bytes != 0 ? 1 : 0)) {
          bad(file, bw + "chunks", "chunk count does not cut the block into chunk_bytes pieces");
        }
        r.blocks.push_back(std::move(b));
        continue;
      }
      if (!chunks.is_array()) bad(file, bw + "chunks", "not an array");
      std::uint64_t covered = 0;
      for (std::size_t c = 0; c < chunks.size(); ++c) {
        const std::string cw = bw + "chunks[" + std::to_string(c) + "]";
        const json& jc = chunks[c];
        if (!jc.is_array() || jc.size() != 7) bad(file, cw, "expected 7 fields");
        ChunkRef ref;
        ref.raw_bytes = rd.u64(jc[0], cw, r.chunk_bytes);
        ref.raw_hash = rd.u64(jc[1], cw, UINT64_MAX);
        ref.step = static_cast<long>(rd.u64(jc[2], cw, static_cast<std::uint64_t>(m.step)));
        ref.rank = static_cast<int>(rd.u64(jc[3], cw, kMaxCheckpointRanks));
        std::tie(ref.codec, ref.shuffled) = parse_codec(rd.text(jc[4], cw), file, cw);
        ref.offset = rd.u64(jc[5], cw, UINT64_MAX);
        ref.stored_bytes = rd.u64(jc[6], cw, UINT64_MAX - ref.offset);
        if (ref.raw_bytes == 0) bad(file, cw, "empty chunk");
        if (ref.offset < kShardHeaderBytes) bad(file, cw, "frame inside the shard header");
        if (ref.step == m.step) {
          if (ref.rank >= m.ranks ||
              ref.offset + ref.stored_bytes > m.shards[static_cast<std::size_t>(ref.rank)].bytes) {
            bad(file, cw, "frame outside its shard");
          }
        } else if (std::find(m.depends_on.begin(), m.depends_on.end(), ref.step) ==
                   m.depends_on.end()) {
          bad(file, cw, "references a step not listed in depends_on");
        }
        covered += ref.raw_bytes;
        b.chunks.push_back(ref);
      }
      if (covered != b.rows * row_bytes) bad(file, bw + "chunks", "chunks do not cover the block");
      b.chunk_count = b.chunks.size();
      r.blocks.push_back(std::move(b));
    }
    if (std::string problem = tiling_problem(r, m.ranks); !problem.empty()) {
      bad(file, where + "blocks", problem);
    }
    m.regions.push_back(std::move(r));
  }
  return m;
}

std::string encode_rank_part(const Manifest& part, int rank) {
  // u32 regions | the rank's record | u32 depends_on count | u64 each | the regions' JSON.
  const std::vector<std::byte> record = encode_rank_record(part, rank);
  const std::size_t deps_at = 4 + record.size();
  std::string out(deps_at + 4 + 8 * part.depends_on.size(), '\0');
  const auto bytes = std::as_writable_bytes(std::span(out.data(), out.size()));
  put_le(bytes, 0, static_cast<std::uint32_t>(part.regions.size()));
  std::memcpy(out.data() + 4, record.data(), record.size());
  put_le(bytes, deps_at, static_cast<std::uint32_t>(part.depends_on.size()));
  for (std::size_t i = 0; i < part.depends_on.size(); ++i) {
    put_le(bytes, deps_at + 4 + 8 * i, static_cast<std::uint64_t>(part.depends_on[i]));
  }
  out += region_heads(part).dump();
  return out;
}

Manifest merge_rank_parts(long step, int ranks, const Codec& codec,
                          const std::vector<std::string>& parts) {
  if (parts.size() != static_cast<std::size_t>(ranks) || ranks < 1) {
    throw Error(ErrorCategory::invalid_argument, "expected one commit message per rank",
                {{"ranks", std::to_string(ranks)}, {"messages", std::to_string(parts.size())}});
  }
  const auto malformed = [](std::size_t r) {
    return Error(ErrorCategory::invalid_argument, "malformed commit message",
                 {{"rank", std::to_string(r)}});
  };
  // Where each part's regions' JSON starts, after its record and its depends_on.
  const auto heads_at = [&](std::size_t r, std::uint32_t regions) {
    const std::string& p = parts[r];
    const auto bytes = std::as_bytes(std::span(p.data(), p.size()));
    const std::size_t width = rank_record_bytes(regions);
    if (p.size() < 4 + width + 4 || get_le<std::uint32_t>(bytes, 0) != regions) throw malformed(r);
    const auto deps = get_le<std::uint32_t>(bytes, 4 + width);
    if (deps > (p.size() - 8 - width) / 8) throw malformed(r);
    return 8 + width + 8 * std::size_t{deps};
  };
  if (parts[0].size() < 4) throw malformed(0);
  const auto regions =
      get_le<std::uint32_t>(std::as_bytes(std::span(parts[0].data(), parts[0].size())), 0);
  const std::string_view heads = std::string_view(parts[0]).substr(heads_at(0, regions));

  Manifest m;
  m.step = step;
  m.ranks = ranks;
  m.created = utc_timestamp();
  m.codec = codec;
  try {
    const std::string from = "rank 0's commit message";
    const FieldReader rd{from};
    m.regions = region_heads_of(rd, json::parse(heads));
  } catch (const std::exception& e) {
    throw Error(ErrorCategory::invalid_argument,
                std::string("malformed commit message: ") + e.what(), {{"rank", "0"}});
  }
  if (m.regions.size() != regions) throw malformed(0);
  // The records, as the table a format 4 manifest holds: decoded (and checked) once below.
  const std::size_t width = rank_record_bytes(regions);
  std::vector<std::byte> table(kRankTableHeaderBytes + parts.size() * width);
  put_rank_table_header(table, static_cast<std::uint32_t>(ranks), regions);
  for (std::size_t r = 0; r < parts.size(); ++r) {
    const std::size_t at = heads_at(r, regions);
    if (std::string_view(parts[r]).substr(at) != heads) {
      throw Error(ErrorCategory::invalid_argument,
                  "ranks disagree on the protected regions (names, order, dtypes, global shapes "
                  "or chunk sizes)",
                  {{"rank", std::to_string(r)}});
    }
    const auto bytes = std::as_bytes(std::span(parts[r].data(), parts[r].size()));
    std::memcpy(table.data() + kRankTableHeaderBytes + r * width, bytes.data() + 4, width);
    const auto deps = get_le<std::uint32_t>(bytes, 4 + width);
    for (std::uint32_t d = 0; d < deps; ++d) {
      const auto dep = static_cast<long>(get_le<std::uint64_t>(bytes, 8 + width + 8 * d));
      if (std::find(m.depends_on.begin(), m.depends_on.end(), dep) == m.depends_on.end()) {
        m.depends_on.push_back(dep);
      }
    }
  }
  std::sort(m.depends_on.begin(), m.depends_on.end());
  try {
    decode_rank_table(table, {}, m, "the commit messages");
  } catch (const Error& e) {
    throw Error(ErrorCategory::invalid_argument, "malformed commit message: " + e.message(),
                {{"field", std::string(e.context_value("field"))}});
  }
  for (const RegionRecord& region : m.regions) {
    if (std::string problem = tiling_problem(region, ranks); !problem.empty()) {
      throw Error(ErrorCategory::invalid_argument,
                  "the ranks' protected rows do not tile the global array: " + problem,
                  {{"region", region.name}});
    }
  }
  return m;
}

Manifest read_manifest(const std::string& dir, long step) {
  return decode_step_manifest(read_manifest_text(dir, step), dir, step);
}

Manifest decode_step_manifest(const std::string& text, const std::string& dir, long step) {
  const std::string path = manifest_path(dir, step);
  Manifest m = decode_manifest(text, path);
  if (m.step != step) bad(path, "step", "manifest names another step");
  return m;
}

std::string read_manifest_text(const std::string& dir, long step) {
  const std::string path = manifest_path(dir, step);
  // O_NONBLOCK: a FIFO planted as the manifest must not block open(); the type check refuses it,
  // and a device (/dev/zero) or a file past the bound, before a byte is read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT)
      throw Error(ErrorCategory::io, "checkpoint manifest missing", {{"file", path}});
    throw_errno("checkpoint manifest unreadable", err, {{"file", path}});
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw_errno("cannot stat the checkpoint manifest", errno, {{"file", path}});
  if (!S_ISREG(st.st_mode)) bad(path, "", "not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > kMaxManifestBytes) {
    bad(path, "",
        "larger than the " + std::to_string(kMaxManifestBytes >> 20) + " MiB a manifest may be");
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  read_all(fd, path, 0, std::as_writable_bytes(std::span(text.data(), text.size())));
  return text;
}

ManifestPresence manifest_presence(const std::string& dir, long step, std::string* why) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(manifest_path(dir, step), ec);
  if (status.type() == fs::file_type::not_found) return ManifestPresence::absent;
  if (ec) {
    if (why != nullptr) *why = "cannot examine " + manifest_path(dir, step) + ": " + ec.message();
    return ManifestPresence::unreadable;
  }
  return ManifestPresence::present;
}

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace strata::io::detail
