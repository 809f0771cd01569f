// SPDX-License-Identifier: Apache-2.0
// Whitebox tests of the checkpoint manifest: encode/decode round-trips every field, it is written
// compactly and never over the bound restore reads, the merge of ranks' parts, and a manifest
// edited in any field — resealed with a correct SHA-256 so the field's own check must catch it —
// is refused as corrupt data naming the file and the field.
#include "checkpoint/checkpoint_manifest.hpp"

#include <gtest/gtest.h>

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

// Proves merging ranks' parts gives one region with every rank's block, each rank's own shard,
// the union of dependencies, and refuses parts that disagree on a region's shape.
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

TEST(CheckpointManifest, MergeJoinsTheRanksParts) {
  std::vector<Manifest> parts(2, sample());
  parts[0].regions[0].blocks.pop_back();
  parts[0].depends_on = {};
  parts[1].regions[0].blocks.erase(parts[1].regions[0].blocks.begin());
  const Manifest m = strata::io::detail::merge_manifests(7, 2, strata::io::no_compression(), parts);
  ASSERT_EQ(m.regions.size(), 1u);
  ASSERT_EQ(m.regions[0].blocks.size(), 2u);
  EXPECT_EQ(m.regions[0].blocks[0].rank, 0);
  EXPECT_EQ(m.regions[0].blocks[1].rank, 1);
  EXPECT_EQ(m.shards[0].sha256, std::string(64, 'a'));
  EXPECT_EQ(m.shards[1].sha256, std::string(64, 'b'));
  EXPECT_EQ(m.depends_on, std::vector<long>{5});
  parts[1].regions[0].global_shape = strata::Shape{5, 3};
  EXPECT_THROW(strata::io::detail::merge_manifests(7, 2, strata::io::no_compression(), parts),
               strata::Error);
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

}  // namespace
