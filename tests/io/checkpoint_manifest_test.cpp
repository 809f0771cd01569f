// SPDX-License-Identifier: Apache-2.0
// Whitebox tests of the checkpoint manifest: encode/decode round-trips every field, it is written
// compactly and never over the bound restore reads, the merge of ranks' parts, and a manifest
// edited in any field — resealed with a correct SHA-256 so the field's own check must catch it —
// is refused as corrupt data naming the file and the field. Format 4: the binary rank table after
// the JSON line round-trips at its documented layout, every hostile table is refused naming the
// field, and the commit's binary rank parts merge into the step's manifest.
#include "checkpoint/checkpoint_manifest.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/sha256_hex.hpp"
#include "strata/runtime/base/error.hpp"

namespace {

using nlohmann::json;
using strata::io::detail::BlockRecord;
using strata::io::detail::ChunkRef;
using strata::io::detail::Manifest;
using strata::io::detail::RegionRecord;

// Step 7 of a 2-rank job: region "u", f64[4, 3] (24-byte rows), rows 0-1 on rank 0 and 2-3 on
// rank 1, one 48-byte raw chunk each; rank 1's chunk reused from step 5. In format `version`: 3
// keeps only the chunk counts (the entries are in the shards), 2 every entry.
Manifest sample(int version = 3) {
  Manifest m;
  m.version = version;
  m.step = 7;
  m.ranks = 2;
  m.created = "2026-12-07T05:00:00Z";
  m.run = "heat nx=64";
  m.codec = strata::io::no_compression();
  m.depends_on = {5};
  RegionRecord r;
  r.name = "u";
  r.dtype = strata::DType::f64;
  r.global_shape = strata::Shape{4, 3};
  r.chunk_bytes = 48;
  r.blocks.push_back(
      {0, 0, 2, 1, {ChunkRef{48, 0x1234, 7, 0, strata::io::Codec::Kind::none, false, 64, 48}}});
  r.blocks.push_back(
      {1, 2, 2, 1, {ChunkRef{48, 0x5678, 5, 1, strata::io::Codec::Kind::none, false, 64, 48}}});
  m.regions.push_back(r);
  m.shards.push_back({0, 112, std::string(64, 'a')});
  m.shards.push_back({1, 64, std::string(64, 'b')});
  return m;
}

using strata::test::sha256_hex;

// The sample's manifest after `edit` changed its body, resealed with the body's SHA-256.
std::string edited(const std::function<void(json&)>& edit, int version = 3) {
  json whole = json::parse(strata::io::detail::encode_manifest(sample(version)));
  edit(whole["manifest"]);
  whole["sha256"] = sha256_hex(whole["manifest"].dump());
  return whole.dump();
}

// The field named by the corrupt_data error decoding `text` throws, or "accepted".
std::string refused_field(const std::string& text) {
  try {
    (void)strata::io::detail::decode_manifest(text, "m.json");
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data) << e.what();
    EXPECT_EQ(e.context_value("file"), "m.json");
    return std::string(e.context_value("field"));
  }
  return "accepted";
}

// Proves a format 3 manifest holds no chunk entry — per block only its rank, rows and chunk count
// — and decodes with the count and no entries (they are read from the shards' indexes).
TEST(CheckpointManifest, Version3HasNoChunkEntries) {
  const std::string text = strata::io::detail::encode_manifest(sample());
  const json body = json::parse(text)["manifest"];
  EXPECT_EQ(body["version"], 3);
  for (const json& block : body["regions"][0]["blocks"]) {
    EXPECT_EQ(block["chunks"], 1) << block.dump();
    std::vector<std::string> keys;
    for (const auto& [key, value] : block.items()) keys.push_back(key);
    EXPECT_EQ(keys, (std::vector<std::string>{"chunks", "first_row", "rank", "rows"}));
  }
  EXPECT_EQ(text.find("22136"), std::string::npos) << "a chunk's XXH3 (0x5678) was written";
  const Manifest m = strata::io::detail::decode_manifest(text, "m");
  EXPECT_EQ(m.version, 3);
  ASSERT_EQ(m.regions[0].blocks.size(), 2u);
  EXPECT_EQ(m.regions[0].blocks[1].chunk_count, 1u);
  EXPECT_TRUE(m.regions[0].blocks[1].chunks.empty());
  // A count that does not cut the block into chunk_bytes pieces is refused.
  EXPECT_EQ(refused_field(edited([](json& b) { b["regions"][0]["blocks"][0]["chunks"] = 2; })),
            "regions[0].blocks[0].chunks");
  EXPECT_EQ(refused_field(edited([](json& b) { b["regions"][0]["blocks"][0]["chunks"] = "1"; })),
            "regions[0].blocks[0].chunks");
}

// Proves every field of a format 2 manifest (chunk entries included) survives encode and decode:
// the format of checkpoints written before the chunk index, still read and re-encoded as 2.
TEST(CheckpointManifest, RoundTripsEveryField) {
  const Manifest m =
      strata::io::detail::decode_manifest(strata::io::detail::encode_manifest(sample(2)), "m");
  EXPECT_EQ(m.version, 2);
  EXPECT_EQ(m.step, 7);
  EXPECT_EQ(m.ranks, 2);
  EXPECT_EQ(m.created, "2026-12-07T05:00:00Z");
  EXPECT_EQ(m.run, "heat nx=64");
  EXPECT_EQ(m.codec.kind, strata::io::Codec::Kind::none);
  EXPECT_EQ(m.depends_on, std::vector<long>{5});
  ASSERT_EQ(m.shards.size(), 2u);
  EXPECT_EQ(m.shards[0].bytes, 112u);
  EXPECT_EQ(m.shards[1].sha256, std::string(64, 'b'));
  ASSERT_EQ(m.regions.size(), 1u);
  const RegionRecord& r = m.regions[0];
  EXPECT_EQ(r.name, "u");
  EXPECT_EQ(r.dtype, strata::DType::f64);
  EXPECT_EQ(r.global_shape, (strata::Shape{4, 3}));
  EXPECT_EQ(r.chunk_bytes, 48u);
  ASSERT_EQ(r.blocks.size(), 2u);
  EXPECT_EQ(r.blocks[1].first_row, 2u);
  EXPECT_EQ(r.blocks[1].rows, 2u);
  const ChunkRef& c = r.blocks[1].chunks.at(0);
  EXPECT_EQ(c.raw_hash, 0x5678u);
  EXPECT_EQ(c.step, 5);
  EXPECT_EQ(c.rank, 1);
  EXPECT_EQ(c.offset, 64u);
  EXPECT_EQ(c.stored_bytes, 48u);
  EXPECT_EQ(r.blocks[1].chunk_count, 1u);
  EXPECT_EQ(refused_field(edited([](json&) {})), "accepted") << "resealing alone changes nothing";
  EXPECT_EQ(refused_field(edited([](json&) {}, 2)), "accepted");
}

// Proves the manifest is written on one line: indentation doubled the bytes of a large state's
// chunk entries (docs/scaling.md) and would fail this.
TEST(CheckpointManifest, IsWrittenCompactly) {
  const std::string text = strata::io::detail::encode_manifest(sample());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.find('\n'), text.size() - 1);  // the final newline only
  EXPECT_EQ(text.find(": "), std::string::npos);
  EXPECT_EQ(text, json::parse(text).dump() + "\n");
}

// Proves a manifest over the bound is refused when encoded — as the commit encodes it, so a save
// too large to restore fails instead of committing — naming its size and what fills it (format
// 2: its chunk entries and chunk_bytes; format 3: the ranks' and regions' records); one exactly
// at the bound is written. Would fail if the bound were not checked.
TEST(CheckpointManifest, EncodingRefusesAManifestOverTheBound) {
  for (const int version : {2, 3}) {
    const std::string text = strata::io::detail::encode_manifest(sample(version));
    EXPECT_EQ(strata::io::detail::encode_manifest(sample(version), text.size()), text);
    try {
      (void)strata::io::detail::encode_manifest(sample(version), text.size() - 1);
      ADD_FAILURE() << "a manifest one byte over the bound was encoded (version " << version << ")";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::resource) << e.what();
      EXPECT_EQ(e.context_value("bytes"), std::to_string(text.size()));
      EXPECT_EQ(e.context_value("limit"), std::to_string(text.size() - 1));
      const std::string what = e.what();
      if (version == 2) {
        EXPECT_NE(what.find("2 chunk entries of 2 ranks"), std::string::npos) << what;
        EXPECT_NE(what.find("chunk_bytes"), std::string::npos) << what;
      } else {
        EXPECT_NE(what.find("the records of 2 ranks and 1 regions"), std::string::npos) << what;
      }
    }
  }
}

// Proves the whole-file checks: not JSON, a body edited without resealing, a field missing.
TEST(CheckpointManifest, DamagedOrUnsealedManifestsAreRefused) {
  EXPECT_EQ(refused_field("[[[["), "");
  json whole = json::parse(strata::io::detail::encode_manifest(sample()));
  whole["manifest"]["step"] = 8;
  EXPECT_EQ(refused_field(whole.dump()), "sha256");
  EXPECT_EQ(refused_field(edited([](json& b) { b.erase("created"); })), "created");
}

// Proves each field's own check: every edit below is resealed, so only that check can refuse it.
TEST(CheckpointManifest, EveryFieldRefusesABadValue) {
  struct Case {
    std::string field;
    std::function<void(json&)> edit;
  };
  const std::vector<Case> cases = {
      {"format", [](json& b) { b["format"] = "other"; }},
      {"version", [](json& b) { b["version"] = 9; }},
      {"version", [](json& b) { b["version"] = 1; }},
      {"step", [](json& b) { b["step"] = "7"; }},
      {"ranks", [](json& b) { b["ranks"] = 0; }},
      {"created", [](json& b) { b["created"] = 5; }},
      {"run", [](json& b) { b["run"] = 5; }},
      {"run", [](json& b) { b["run"] = std::string(256, 'r'); }},
      {"codec", [](json& b) { b["codec"] = "lz4"; }},
      {"level", [](json& b) { b["level"] = 99; }},
      {"depends_on", [](json& b) { b["depends_on"] = json::array({7}); }},
      {"shards", [](json& b) { b["shards"].erase(1); }},
      {"shards[0].rank", [](json& b) { b["shards"][0]["rank"] = 1; }},
      {"shards[0].bytes", [](json& b) { b["shards"][0]["bytes"] = 10; }},
      {"shards[0].sha256", [](json& b) { b["shards"][0]["sha256"] = "ab"; }},
      {"regions", [](json& b) { b["regions"] = json::object(); }},
      {"regions[0].name", [](json& b) { b["regions"][0]["name"] = ""; }},
      {"regions[0].dtype/global_shape", [](json& b) { b["regions"][0]["dtype"] = "f128"; }},
      {"regions[0].global_shape", [](json& b) { b["regions"][0]["global_shape"] = json::array(); }},
      {"regions[0].rank_local", [](json& b) { b["regions"][0]["rank_local"] = "no"; }},
      {"regions[0].chunk_bytes", [](json& b) { b["regions"][0]["chunk_bytes"] = 0; }},
      {"regions[0].blocks", [](json& b) { b["regions"][0]["blocks"] = 3; }},
      {"regions[0].blocks[0].rank", [](json& b) { b["regions"][0]["blocks"][0]["rank"] = 2; }},
      {"regions[0].blocks[0].first_row",
       [](json& b) { b["regions"][0]["blocks"][0]["first_row"] = 5; }},
      {"regions[0].blocks[0].rows", [](json& b) { b["regions"][0]["blocks"][0]["rows"] = 5; }},
      {"regions[0].blocks[0].chunks[0]",
       [](json& b) { b["regions"][0]["blocks"][0]["chunks"][0].erase(6); }},
      {"regions[0].blocks[0].chunks[0]",
       [](json& b) { b["regions"][0]["blocks"][0]["chunks"][0][5] = 8; }},
      {"regions[0].blocks[0].chunks[0]",
       [](json& b) { b["regions"][0]["blocks"][0]["chunks"][0][6] = 4096; }},
      {"regions[0].blocks[0].chunks[0]",
       [](json& b) { b["regions"][0]["blocks"][0]["chunks"][0][2] = 3; }},
      {"regions[0].blocks[0].chunks[0]",
       [](json& b) { b["regions"][0]["blocks"][0]["chunks"][0][4] = "lz4"; }},
      {"regions[0].blocks[0].chunks",
       [](json& b) { b["regions"][0]["blocks"][0]["chunks"][0][0] = 40; }},
  };
  for (const Case& c : cases) {
    // The chunk entries exist in format 2 only; every other field is checked in both.
    const bool entries = c.field.find("chunks") != std::string::npos;
    if (!entries) {
      EXPECT_EQ(refused_field(edited(c.edit)), c.field) << "expected a refusal naming " << c.field;
    }
    EXPECT_EQ(refused_field(edited(c.edit, 2)), c.field)
        << "format 2: expected a refusal naming " << c.field;
  }
}

// Proves a resealed manifest whose blocks do not tile the global rows exactly — overlapping,
// duplicated, or leaving rows uncovered — is refused, and a rank-local region needs exactly one
// block per rank: such a manifest would restore or export silently wrong rows.
TEST(CheckpointManifest, BlocksMustTileTheGlobalRows) {
  const std::string blocks = "regions[0].blocks";
  EXPECT_EQ(refused_field(edited([](json& b) {
              b["regions"][0]["blocks"][1]["first_row"] = 0;  // rows 0-1 twice, 2-3 never
            })),
            blocks);
  EXPECT_EQ(refused_field(edited([](json& b) {
              auto& list = b["regions"][0]["blocks"];
              list.push_back(list[0]);
            })),
            blocks);
  EXPECT_EQ(refused_field(edited([](json& b) { b["regions"][0]["blocks"].erase(1); })), blocks);
  EXPECT_EQ(refused_field(edited([](json& b) {
              auto& r = b["regions"][0];
              r["rank_local"] = true;
              r["global_shape"] = json::array({2, 3});
              r["blocks"][1]["rank"] = 0;
              r["blocks"][1]["first_row"] = 0;
            })),
            blocks);
}

// Step 9 of a 3-rank job in format 4: region "u" f64 [6, 3] (24-byte rows, 48-byte chunks) with
// rows 0-2 on rank 0, 3 on rank 1, 4-5 on rank 2; rank-local region "id" u32 [2] (8-byte chunks)
// on every rank; ranks 0 and 2 on node "n-a", rank 1 on "n-b".
Manifest sample4() {
  Manifest m;
  m.version = 4;
  m.step = 9;
  m.ranks = 3;
  m.created = "2026-12-07T06:00:00Z";
  m.run = "heat nx=64";
  m.codec = strata::io::zstd(1);
  m.depends_on = {3, 5};
  RegionRecord u;
  u.name = "u";
  u.dtype = strata::DType::f64;
  u.global_shape = strata::Shape{6, 3};
  u.chunk_bytes = 48;
  u.blocks = {{0, 0, 3, 2, {}}, {1, 3, 1, 1, {}}, {2, 4, 2, 1, {}}};
  RegionRecord id;
  id.name = "id";
  id.dtype = strata::DType::u32;
  id.global_shape = strata::Shape{2};
  id.rank_local = true;
  id.chunk_bytes = 8;
  id.blocks = {{0, 0, 2, 1, {}}, {1, 0, 2, 1, {}}, {2, 0, 2, 1, {}}};
  m.regions = {u, id};
  for (int r = 0; r < 3; ++r) {
    // 64 hex digits: "0r" then "ab" repeated, so each rank's raw digest starts with byte r.
    std::string digest = "0" + std::to_string(r);
    while (digest.size() < 64) digest += "ab";
    m.shards.push_back({r, 100u * static_cast<std::uint64_t>(r + 1), digest});
  }
  m.nodes = {"n-a", "n-b", "n-a"};
  return m;
}

template <class T>
T field_at(const std::string& bytes, std::size_t at) {
  T value;
  std::memcpy(&value, bytes.data() + at, sizeof value);
  return value;
}

template <class T>
void set_field(std::string& bytes, std::size_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

// sample4()'s manifest with its rank table edited by `edit_table` and its JSON body by
// `edit_body`; the table's seal (size, SHA-256) is recomputed when `reseal_table`, the body's
// SHA-256 always: only the checks of the edited field can refuse it.
std::string edited4(const std::function<void(std::string&)>& edit_table,
                    const std::function<void(json&)>& edit_body = {}, bool reseal_table = true) {
  const std::string text = strata::io::detail::encode_manifest(sample4());
  const std::size_t line_end = text.find('\n');
  json whole = json::parse(text.substr(0, line_end));
  std::string table = text.substr(line_end + 1);
  if (edit_table) edit_table(table);
  if (reseal_table) {
    whole["manifest"]["rank_table"]["bytes"] = table.size();
    whole["manifest"]["rank_table"]["sha256"] = sha256_hex(table);
  }
  if (edit_body) edit_body(whole["manifest"]);
  whole["sha256"] = sha256_hex(whole["manifest"].dump());
  return whole.dump() + "\n" + table;
}

// Proves a format 4 manifest is one JSON line of the step-wide fields (no shard or block record,
// the distinct node names) followed by the rank table at the layout docs/formats.md gives —
// header, then per rank shard bytes, raw SHA-256, node index, and each region's first row and
// rows — and that every field decodes back (chunk counts from the rows) and re-encodes to the
// same bytes. Would fail if a field moved, the JSON kept per-rank records, or decode lost one.
TEST(CheckpointManifest, RankTableRoundTripsAtTheDocumentedLayout) {
  const std::string text = strata::io::detail::encode_manifest(sample4());
  const std::size_t line_end = text.find('\n');
  ASSERT_NE(line_end, std::string::npos);
  const json body = json::parse(text.substr(0, line_end))["manifest"];
  EXPECT_EQ(body["version"], 4);
  EXPECT_FALSE(body.contains("shards"));
  EXPECT_FALSE(body["regions"][0].contains("blocks"));
  EXPECT_EQ(body["nodes"], json::array({"n-a", "n-b"}));
  EXPECT_EQ(body["rank_table"]["record_bytes"], 80);  // 48 + 16 per region
  const std::string table = text.substr(line_end + 1);
  ASSERT_EQ(table.size(), 32u + 3 * 80);
  EXPECT_EQ(body["rank_table"]["bytes"], table.size());
  EXPECT_EQ(body["rank_table"]["sha256"], sha256_hex(table));
  EXPECT_EQ(table.substr(0, 8), "STRATRK1");
  EXPECT_EQ(field_at<std::uint32_t>(table, 8), 4u);
  EXPECT_EQ(field_at<std::uint32_t>(table, 12), 3u);
  EXPECT_EQ(field_at<std::uint32_t>(table, 16), 2u);
  EXPECT_EQ(field_at<std::uint32_t>(table, 20), 80u);
  EXPECT_EQ(field_at<std::uint64_t>(table, 24), 0u);
  const std::size_t rank2 = 32 + 2 * 80;
  EXPECT_EQ(field_at<std::uint64_t>(table, rank2), 300u);
  EXPECT_EQ(static_cast<unsigned char>(table[rank2 + 8]), 0x02);
  EXPECT_EQ(static_cast<unsigned char>(table[rank2 + 39]), 0xab);
  EXPECT_EQ(field_at<std::uint32_t>(table, rank2 + 40), 0u);    // "n-a"
  EXPECT_EQ(field_at<std::uint32_t>(table, 32 + 80 + 40), 1u);  // rank 1 on "n-b"
  EXPECT_EQ(field_at<std::uint64_t>(table, rank2 + 48), 4u);    // u: first row
  EXPECT_EQ(field_at<std::uint64_t>(table, rank2 + 56), 2u);    // u: rows
  EXPECT_EQ(field_at<std::uint64_t>(table, rank2 + 64), 0u);    // id: first row
  EXPECT_EQ(field_at<std::uint64_t>(table, rank2 + 72), 2u);    // id: rows

  const Manifest m = strata::io::detail::decode_manifest(text, "m");
  const Manifest want = sample4();
  EXPECT_EQ(m.version, 4);
  EXPECT_EQ(m.step, 9);
  EXPECT_EQ(m.created, want.created);
  EXPECT_EQ(m.run, want.run);
  EXPECT_EQ(m.codec.kind, strata::io::Codec::Kind::zstd);
  EXPECT_EQ(m.depends_on, want.depends_on);
  EXPECT_EQ(m.nodes, want.nodes);
  ASSERT_EQ(m.shards.size(), 3u);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(m.shards[r].rank, r);
    EXPECT_EQ(m.shards[r].bytes, want.shards[r].bytes);
    EXPECT_EQ(m.shards[r].sha256, want.shards[r].sha256);
  }
  ASSERT_EQ(m.regions.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(m.regions[i].name, want.regions[i].name);
    EXPECT_EQ(m.regions[i].dtype, want.regions[i].dtype);
    EXPECT_EQ(m.regions[i].global_shape, want.regions[i].global_shape);
    EXPECT_EQ(m.regions[i].rank_local, want.regions[i].rank_local);
    EXPECT_EQ(m.regions[i].chunk_bytes, want.regions[i].chunk_bytes);
    ASSERT_EQ(m.regions[i].blocks.size(), 3u);
    for (std::size_t r = 0; r < 3; ++r) {
      const BlockRecord& got = m.regions[i].blocks[r];
      const BlockRecord& expect = want.regions[i].blocks[r];
      EXPECT_EQ(got.rank, expect.rank);
      EXPECT_EQ(got.first_row, expect.first_row);
      EXPECT_EQ(got.rows, expect.rows);
      EXPECT_EQ(got.chunk_count, expect.chunk_count) << "region " << i << " rank " << r;
    }
  }
  EXPECT_EQ(strata::io::detail::encode_manifest(m), text);
  // Without a local level no node is named: no "nodes", every node index 0xffffffff.
  Manifest plain = sample4();
  plain.nodes.clear();
  const std::string plain_text = strata::io::detail::encode_manifest(plain);
  EXPECT_EQ(plain_text.find("\"nodes\""), std::string::npos);
  EXPECT_EQ(field_at<std::uint32_t>(plain_text, plain_text.find('\n') + 1 + 32 + 40), 0xffffffffu);
  EXPECT_TRUE(strata::io::detail::decode_manifest(plain_text, "m").nodes.empty());
}

// Proves every hostile rank table is refused as corrupt data naming the manifest and the field:
// truncated or missing, its seal broken, its header disagreeing with the JSON or with itself, and
// each record's fields out of range — resealed, so only that field's own check can refuse it.
// Would fail (or crash, or restore wrong rows) if any check were dropped.
TEST(CheckpointManifest, HostileRankTablesAreRefusedNamingTheField) {
  EXPECT_EQ(refused_field(edited4({})), "accepted") << "resealing alone changes nothing";
  const std::size_t rank1 = 32 + 80;
  struct Case {
    std::string field;
    std::string text;
  };
  const std::string whole = strata::io::detail::encode_manifest(sample4());
  const std::vector<Case> cases = {
      {"rank_table.bytes", edited4([](std::string& t) { t.pop_back(); }, {}, false)},
      {"rank_table.bytes", edited4([](std::string& t) { t.resize(t.size() - 80); })},
      {"rank_table", edited4([](std::string& t) { t.resize(20); })},
      {"rank_table", whole.substr(0, whole.find('\n') + 1)},
      {"rank_table.sha256", edited4([](std::string& t) { t[rank1] ^= 1; }, {}, false)},
      {"rank_table.magic", edited4([](std::string& t) { t[7] = '2'; })},
      {"rank_table.version", edited4([](std::string& t) { set_field<std::uint32_t>(t, 8, 3); })},
      {"rank_table.ranks", edited4([](std::string& t) { set_field<std::uint32_t>(t, 12, 2); })},
      {"rank_table.ranks", edited4({}, [](json& b) { b["ranks"] = 4; })},
      {"rank_table.regions", edited4([](std::string& t) { set_field<std::uint32_t>(t, 16, 1); })},
      {"rank_table.record_bytes",
       edited4([](std::string& t) { set_field<std::uint32_t>(t, 20, 81); })},
      {"rank_table.record_bytes",
       edited4({}, [](json& b) { b["rank_table"]["record_bytes"] = 64; })},
      {"rank_table.reserved", edited4([](std::string& t) { set_field<std::uint64_t>(t, 24, 1); })},
      {"ranks[0].shard_bytes",
       edited4([](std::string& t) { set_field<std::uint64_t>(t, 32, 10); })},
      {"ranks[1].node",
       edited4([=](std::string& t) { set_field<std::uint32_t>(t, rank1 + 40, 2); })},
      {"ranks[0].node", edited4({}, [](json& b) { b.erase("nodes"); })},
      {"ranks[1].reserved",
       edited4([=](std::string& t) { set_field<std::uint32_t>(t, rank1 + 44, 7); })},
      {"ranks[1].regions[0].rows", edited4([=](std::string& t) {
         set_field<std::uint64_t>(t, rank1 + 56, ~std::uint64_t{0});
       })},
      {"ranks[1].regions[0].first_row",
       edited4([=](std::string& t) { set_field<std::uint64_t>(t, rank1 + 48, 7); })},
      {"regions[0].blocks",
       edited4([=](std::string& t) { set_field<std::uint64_t>(t, rank1 + 56, 0); })},
      {"regions[1].blocks",
       edited4([=](std::string& t) { set_field<std::uint64_t>(t, rank1 + 72, 1); })},
      {"nodes", edited4({},
                        [](json& b) {
                          b["nodes"] = json::array({"n-a", "n-a"});
                        })},
      {"rank_table",
       strata::io::detail::encode_manifest(sample(3)) + whole.substr(whole.find('\n') + 1)},
  };
  for (const Case& c : cases) EXPECT_EQ(refused_field(c.text), c.field) << c.text.size();
}

// Proves the commit's binary rank parts merge into the step's manifest: every rank's shard and
// blocks, the union of depends_on, rank 0's regions; and that a part whose regions differ from
// rank 0's, a malformed part and blocks that do not tile are refused naming the rank or region.
TEST(CheckpointManifest, RankPartsMergeIntoTheStepsManifest) {
  namespace d = strata::io::detail;
  const Manifest whole = sample4();
  auto part_of = [&](int rank) {
    Manifest p = whole;
    p.nodes.clear();
    for (RegionRecord& r : p.regions) r.blocks = {r.blocks[static_cast<std::size_t>(rank)]};
    p.depends_on = rank == 1   ? std::vector<long>{5}
                   : rank == 2 ? std::vector<long>{3, 5}
                               : std::vector<long>{};
    return p;
  };
  std::vector<std::string> parts;
  for (int r = 0; r < 3; ++r) parts.push_back(d::encode_rank_part(part_of(r), r));
  const Manifest m = d::merge_rank_parts(9, 3, strata::io::zstd(1), parts);
  EXPECT_EQ(m.depends_on, (std::vector<long>{3, 5}));
  ASSERT_EQ(m.shards.size(), 3u);
  EXPECT_EQ(m.shards[2].bytes, 300u);
  EXPECT_EQ(m.shards[2].sha256, whole.shards[2].sha256);
  ASSERT_EQ(m.regions.size(), 2u);
  EXPECT_EQ(m.regions[1].name, "id");
  EXPECT_TRUE(m.regions[1].rank_local);
  ASSERT_EQ(m.regions[0].blocks.size(), 3u);
  EXPECT_EQ(m.regions[0].blocks[1].first_row, 3u);
  EXPECT_EQ(m.regions[0].blocks[2].rows, 2u);
  EXPECT_EQ(m.regions[0].blocks[0].chunk_count, 2u);
  EXPECT_TRUE(m.nodes.empty());

  auto refused = [&](std::vector<std::string> bad_parts) {
    try {
      (void)d::merge_rank_parts(9, 3, strata::io::zstd(1), bad_parts);
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument) << e.what();
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  Manifest other = part_of(2);
  other.regions[0].global_shape = strata::Shape{7, 3};
  std::vector<std::string> disagree = parts;
  disagree[2] = d::encode_rank_part(other, 2);
  EXPECT_NE(refused(disagree).find("rank=2"), std::string::npos) << refused(disagree);
  std::vector<std::string> truncated = parts;
  truncated[1].resize(30);
  EXPECT_NE(refused(truncated).find("malformed"), std::string::npos) << refused(truncated);
  Manifest overlap = part_of(1);
  overlap.regions[0].blocks[0].first_row = 2;  // rows 2-3: row 2 twice
  std::vector<std::string> overlapping = parts;
  overlapping[1] = d::encode_rank_part(overlap, 1);
  EXPECT_NE(refused(overlapping).find("do not tile"), std::string::npos) << refused(overlapping);
}

}  // namespace
