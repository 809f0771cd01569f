// SPDX-License-Identifier: Apache-2.0
// The XOR group level without MPI: groups of nodes, the parity of members whose shards differ in
// size rebuilding any one lost member byte for byte, the parity file's header and payload checks,
// the rebuild plan refusing two lost members of one group, and the Checkpointer's option checks.
#include "checkpoint/xor_parity.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "checksum/xxh3.hpp"
#include "common/scratch_folder.hpp"
#include "files/file_io.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"
#include "strata/runtime/base/error.hpp"

namespace {

namespace detail = strata::io::detail;

std::vector<std::byte> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(bytes.size());
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

void write_file(const std::string& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

class CheckpointXorParityTest : public strata::test::ScratchFolderTest {
 protected:
  CheckpointXorParityTest() : ScratchFolderTest("strata-xor-parity") {}

  // Random files of the given sizes for each member's ranks; returns their pieces per member.
  std::vector<std::vector<detail::MemberData::Piece>> make_members(
      const std::vector<std::vector<std::uint64_t>>& sizes) {
    std::mt19937_64 random(20261207);
    std::vector<std::vector<detail::MemberData::Piece>> members;
    int rank = 0;
    for (const auto& ranks : sizes) {
      members.emplace_back();
      for (std::uint64_t bytes : ranks) {
        std::vector<std::byte> data(bytes);
        for (auto& b : data) b = static_cast<std::byte>(random());
        const std::string file = path("shard-" + std::to_string(rank++));
        write_file(file, data);
        members.back().push_back({file, bytes});
      }
    }
    return members;
  }
};

// Proves a group's parity rebuilds any one lost member exactly when members hold different
// numbers of shards of different sizes (zero padding, windows that do not divide the segment):
// for K = 3 and K = 4, each member's parity piece is the XOR of the others' contributions, and
// every lost member comes back equal to its original files. Would fail if the segment map lost a
// segment's only copy, padding leaked into a rebuilt shard, or a window was misplaced.
TEST_F(CheckpointXorParityTest, ParityOfUnequalShardsRebuildsAnyOneLostMember) {
  const std::vector<std::vector<std::vector<std::uint64_t>>> cases = {
      {{1000, 37}, {5}, {4099}},
      {{64}, {3000, 1, 700}, {129}, {2048}},
  };
  for (const auto& sizes : cases) {
    const int k = static_cast<int>(sizes.size());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto members = make_members(sizes);
    std::vector<std::uint64_t> member_bytes;
    for (const auto& pieces : members) {
      std::uint64_t total = 0;
      for (const auto& p : pieces) total += p.bytes;
      member_bytes.push_back(total);
    }
    const detail::XorGeometry g = detail::XorGeometry::of(member_bytes);
    ASSERT_EQ(g.segment_bytes, (g.member_bytes + k - 2) / (k - 1));
    const std::size_t window = 7;  // divides no segment here

    // Parity pieces as the ring computes them: P_i = XOR over j of j's contribution to block i.
    std::vector<std::vector<std::byte>> parity(static_cast<std::size_t>(k),
                                               std::vector<std::byte>(g.segment_bytes));
    std::vector<std::unique_ptr<detail::MemberData>> data_of;
    for (const auto& pieces : members)
      data_of.push_back(std::make_unique<detail::MemberData>(pieces));
    for (int i = 0; i < k; ++i) {
      for (int j = 0; j < k; ++j) {
        detail::MemberData& data = *data_of[static_cast<std::size_t>(j)];
        for (std::uint64_t o = 0; o < g.segment_bytes; o += window) {
          const auto n =
              static_cast<std::size_t>(std::min<std::uint64_t>(window, g.segment_bytes - o));
          std::vector<std::byte> part(n);
          detail::parity_contribution(data, g, j, i, o, part);
          detail::xor_into(std::span(parity[static_cast<std::size_t>(i)]).subspan(o, n), part);
        }
      }
    }
    // Parity files as a save writes them (header, then the payload).
    std::vector<std::string> parity_files;
    for (int i = 0; i < k; ++i) {
      detail::ParityHeader h;
      h.step = 42;
      h.group = 0;
      h.member = i;
      int rank = 0;
      for (const auto& pieces : members) {
        h.table.emplace_back();
        for (const auto& p : pieces) h.table.back().emplace_back(rank++, p.bytes);
      }
      h.member_bytes = g.member_bytes;
      h.segment_bytes = g.segment_bytes;
      const auto& payload = parity[static_cast<std::size_t>(i)];
      h.payload_xxh3 = XXH3_64bits(payload.data(), payload.size());
      std::vector<std::byte> file = h.encode();
      file.insert(file.end(), payload.begin(), payload.end());
      parity_files.push_back(path("parity-" + std::to_string(i)));
      write_file(parity_files.back(), file);
      const detail::ParityHeader back = detail::read_parity_header(parity_files.back(), 42, true);
      EXPECT_EQ(back.member, i);
      EXPECT_EQ(back.table, h.table);
    }
    // Every member lost in turn: the others' data and parity give it back.
    std::vector<int> parity_fd;
    std::vector<std::uint64_t> header_bytes;
    for (const std::string& file : parity_files) {
      parity_fd.push_back(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
      ASSERT_GE(parity_fd.back(), 0) << file;
      header_bytes.push_back(std::filesystem::file_size(file) - g.segment_bytes);
    }
    for (int lost = 0; lost < k; ++lost) {
      std::vector<detail::MemberData::Piece> out;
      for (const auto& p : members[static_cast<std::size_t>(lost)])
        out.push_back({p.path + ".rebuilt", p.bytes});
      {
        detail::MemberData rebuilt(out, true);
        for (std::uint64_t o = 0; o < g.segment_bytes; o += window) {
          const auto n =
              static_cast<std::size_t>(std::min<std::uint64_t>(window, g.segment_bytes - o));
          for (int t = 0; t < k - 1; ++t) {
            std::vector<std::byte> acc(n);
            for (int j = 0; j < k; ++j) {
              if (j == lost) continue;
              const auto at = static_cast<std::size_t>(j);
              std::vector<std::byte> part(n);
              detail::rebuild_contribution(*data_of[at], parity_fd[at], parity_files[at],
                                           header_bytes[at], g, j, lost, t, o, part);
              detail::xor_into(acc, part);
            }
            rebuilt.write(static_cast<std::uint64_t>(t) * g.segment_bytes + o, acc);
          }
        }
        rebuilt.sync();
      }
      for (std::size_t p = 0; p < out.size(); ++p) {
        EXPECT_EQ(read_file(out[p].path),
                  read_file(members[static_cast<std::size_t>(lost)][p].path))
            << "K " << k << " lost member " << lost << " shard " << p;
      }
    }
    for (int fd : parity_fd) ::close(fd);
  }
}

// Proves a damaged parity file is refused, never used: a flipped payload byte fails the payload
// XXH3, a flipped header byte the header's, and a file of another step is refused. Would fail if
// a rebuild could silently take a corrupt parity piece.
TEST_F(CheckpointXorParityTest, DamagedParityIsRefused) {
  detail::ParityHeader h;
  h.step = 7;
  h.member = 1;
  h.table = {{{0, 100}}, {{1, 90}, {2, 20}}, {{3, 64}}};
  h.member_bytes = 110;
  h.segment_bytes = 55;
  std::vector<std::byte> payload(55, std::byte{0x5a});
  h.payload_xxh3 = XXH3_64bits(payload.data(), payload.size());
  std::vector<std::byte> file = h.encode();
  const std::size_t header_bytes = file.size();
  file.insert(file.end(), payload.begin(), payload.end());
  const std::string good = path("good");
  write_file(good, file);
  EXPECT_NO_THROW(detail::read_parity_header(good, 7, true));

  auto refused = [&](std::vector<std::byte> bytes, long step, const char* what) {
    const std::string bad = path("bad");
    write_file(bad, bytes);
    try {
      detail::read_parity_header(bad, step, true);
      ADD_FAILURE() << what << " was accepted";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data) << what << ": " << e.what();
    }
  };
  auto flipped_payload = file;
  flipped_payload[header_bytes + 30] ^= std::byte{1};
  refused(flipped_payload, 7, "a flipped payload byte");
  auto flipped_header = file;
  flipped_header[70] ^= std::byte{1};
  refused(flipped_header, 7, "a flipped header byte");
  auto short_file = file;
  short_file.pop_back();
  refused(short_file, 7, "a truncated parity file");
  refused(file, 8, "another step's parity");
}

// Proves the node groups: nodes in order of their lowest rank, a short last group joining the one
// before, fewer nodes than K one group, and one node (or K < 2) refused. Would fail if a group
// came out of one node or a node sat in two groups.
TEST(CheckpointXorGroups, NodesInRankOrderAndAShortLastGroupJoinsThePreviousOne) {
  const auto groups = detail::xor_groups({"b", "a", "b", "c"}, 2);
  ASSERT_EQ(groups.size(), 1u);  // 3 nodes, K 2: {b, a} and {c} -> one group of 3
  ASSERT_EQ(groups[0].size(), 3u);
  EXPECT_EQ(groups[0][0].node, "b");
  EXPECT_EQ(groups[0][0].ranks, (std::vector<int>{0, 2}));
  EXPECT_EQ(groups[0][1].node, "a");
  EXPECT_EQ(groups[0][2].node, "c");

  std::vector<std::string> seven;
  for (char c = 'a'; c < 'h'; ++c) seven.emplace_back(1, c);
  const auto split = detail::xor_groups(seven, 3);
  ASSERT_EQ(split.size(), 2u);
  EXPECT_EQ(split[0].size(), 3u);
  EXPECT_EQ(split[1].size(), 4u);
  EXPECT_EQ(split[1].back().node, "g");

  EXPECT_EQ(detail::xor_groups({"a", "b"}, 4).size(), 1u);
  EXPECT_THROW(detail::xor_groups({"a", "a"}, 2), strata::Error);
  EXPECT_THROW(detail::xor_groups({"a", "b"}, 1), strata::Error);
}

// Proves the rebuild plan: one lost member of a group is planned from the others' sources; two
// lost members of one group, or a damaged parity on a surviving member, are refused with a reason
// naming the group. Would fail if a rebuild were attempted with too little to rebuild from.
TEST(CheckpointXorGroups, RebuildPlanNeedsEveryOtherMemberOfTheGroup) {
  detail::Manifest m;
  m.ranks = 3;
  m.nodes = {"a", "b", "c"};
  for (int r = 0; r < 3; ++r) m.shards.push_back({r, 100u + static_cast<std::uint64_t>(r), ""});
  detail::ParityHeader h;
  h.table = {{{0, 100}}, {{1, 101}}, {{2, 102}}};
  h.member_bytes = 102;
  h.segment_bytes = 51;
  std::vector<detail::ParitySource> sources(3);
  for (int r = 0; r < 3; ++r) {
    sources[static_cast<std::size_t>(r)].node = m.nodes[static_cast<std::size_t>(r)];
    sources[static_cast<std::size_t>(r)].has_parity = true;
    sources[static_cast<std::size_t>(r)].header = h;
    sources[static_cast<std::size_t>(r)].header.member = r;
    sources[static_cast<std::size_t>(r)].shards = {r};
  }
  sources[2] = {};  // node c wiped
  std::vector<detail::XorRebuildPlan> plans;
  EXPECT_EQ(detail::plan_xor_rebuild(m, sources, {2}, plans), "");
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].lost, 2);
  EXPECT_EQ(plans[0].source_of_member, (std::vector<int>{0, 1, -1}));

  auto two_lost = sources;
  two_lost[1] = {};
  const std::string why = detail::plan_xor_rebuild(m, two_lost, {1, 2}, plans);
  EXPECT_NE(why.find("survives the loss of one"), std::string::npos) << why;

  auto damaged = sources;
  damaged[1].has_parity = false;
  damaged[1].damage = "parity is damaged";
  const std::string why_damaged = detail::plan_xor_rebuild(m, damaged, {2}, plans);
  EXPECT_NE(why_damaged.find("parity is damaged"), std::string::npos) << why_damaged;
}

class CheckpointXorOptionsTest : public strata::test::ScratchFolderTest {
 protected:
  CheckpointXorOptionsTest() : ScratchFolderTest("strata-xor-options") {}
  strata::Runtime rt_{strata::RuntimeOptions{.install_stop_signals = false}};
  strata::Executor ex_{rt_, {.threads = 1}};

  void expect_refused(const strata::io::CheckpointOptions& o, const char* words) {
    try {
      strata::io::Checkpointer ck(rt_, ex_, o);
      ADD_FAILURE() << "accepted: " << words;
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  }
};

// Proves xor_group is checked before anything is written: 1 and negative sizes, no local_dir,
// partner together with it, and a one-node job (this process) are each refused with a reason.
// Would fail if a job ran believing it was protected against losing a node when it is not.
TEST_F(CheckpointXorOptionsTest, BadXorGroupOptionsAreRefused) {
  strata::io::CheckpointOptions o;
  o.dir = path("shared");
  o.local_dir = path("local");
  o.xor_group = 1;
  expect_refused(o, "at least 2 nodes");
  o.xor_group = -3;
  expect_refused(o, "at least 2 nodes");
  o.xor_group = 3;
  o.partner = true;
  expect_refused(o, "not both");
  o.partner = false;
  o.local_dir.clear();
  expect_refused(o, "set local_dir");
  o.local_dir = path("local");
  expect_refused(o, "at least two nodes");
}

}  // namespace
