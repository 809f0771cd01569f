// SPDX-License-Identifier: Apache-2.0
// The XOR group level's parity, without MPI: which nodes form a group, the segment map that lets
// any one member be rebuilt from the others (each member's data cut into K-1 segments, member i
// storing the XOR of one segment of every other member, as SCR does), the node's data as the
// concatenation of its ranks' shard files (zero-padded), and the parity file's format
// (docs/formats.md, "XOR group level"). checkpoint_xor.cpp moves the pieces over MPI.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint_manifest.hpp"

namespace strata::io::detail {

// The parity file of a node folder's step: step-N/parity.xor.
inline constexpr const char* kParityName = "parity.xor";
std::string parity_path(const std::string& dir, long step);

// One node of a group: its name and its ranks (ascending); its data is their shards in that order.
struct XorMember {
  std::string node;
  std::vector<int> ranks;
};
using XorGroup = std::vector<XorMember>;

// Nodes in order of their lowest rank, cut into groups of `group_size`; a last group shorter than
// that joins the one before (so groups hold group_size to 2 * group_size - 1 nodes), and fewer
// nodes than group_size form one group. Throws Error(invalid_argument) when every rank runs on
// one node (a group needs two) or group_size < 2.
std::vector<XorGroup> xor_groups(const std::vector<std::string>& node_of_rank, int group_size);

// The sizes of a group's parity: member_bytes is the largest member's data (the others are
// zero-padded to it), segment_bytes = ceil(member_bytes / (members - 1)), and every member stores
// one segment's worth of parity.
struct XorGeometry {
  int members = 0;
  std::uint64_t member_bytes = 0;
  std::uint64_t segment_bytes = 0;
  static XorGeometry of(const std::vector<std::uint64_t>& member_bytes);
};
// The segment of member `member` that goes into the parity stored by member `holder` (holder !=
// member): (holder - member - 1) mod members. For a fixed member it maps the other members one to
// one onto segments 0 .. members - 2, so losing member m loses no segment's only copy.
int xor_segment(int member, int holder, int members);
// The member whose parity holds segment `segment` of member `lost`: the inverse of xor_segment.
int xor_holder(int lost, int segment, int members);

// acc ^= in (equal sizes).
void xor_into(std::span<std::byte> acc, std::span<const std::byte> in) noexcept;

// A member's data: its ranks' shard files, read as one byte string, zeros past its end.
class MemberData {
 public:
  struct Piece {
    std::string path;
    std::uint64_t bytes = 0;
  };
  // Opens every piece for reading (for writing with `create`: new files of the given sizes,
  // written by write()). Throws Error(io) naming a file that cannot be opened.
  explicit MemberData(std::vector<Piece> pieces, bool create = false);
  ~MemberData();
  MemberData(const MemberData&) = delete;
  MemberData& operator=(const MemberData&) = delete;

  std::uint64_t bytes() const noexcept { return bytes_; }
  // Bytes [offset, offset + out.size()) of the data; zeros past its end. Throws Error(io) /
  // Error(corrupt_data) for a failed or short read.
  void read(std::uint64_t offset, std::span<std::byte> out);
  // Writes `in` at `offset` of the data, dropping what lies past its end (the padding).
  void write(std::uint64_t offset, std::span<const std::byte> in);
  // fsyncs every piece (created ones).
  void sync();

 private:
  // Calls io(k, at, from, n) for each piece k overlapping bytes [offset, offset + bytes) of the
  // data: n bytes at `at` in piece k, `from` bytes into the range. Returns the bytes covered.
  template <class Io>
  std::size_t each_piece(std::uint64_t offset, std::size_t bytes, Io io) const;

  std::vector<Piece> pieces_;
  std::vector<int> fds_;
  std::uint64_t bytes_ = 0;
};

// Member `member`'s share of the parity block of `holder`, bytes [offset, offset + out.size()) of
// it: its segment xor_segment(member, holder) there, zeros when holder == member.
void parity_contribution(MemberData& data, const XorGeometry& g, int member, int holder,
                         std::uint64_t offset, std::span<std::byte> out);

// The header of a parity file: what group and member it belongs to, the group's members with
// their ranks and shard sizes (so a rebuild knows the layout without the job that wrote it), and
// XXH3 digests of the payload (segment_bytes of parity after the header) and of the header.
struct ParityHeader {
  long step = 0;
  int group = 0;
  int member = 0;
  std::uint64_t member_bytes = 0;
  std::uint64_t segment_bytes = 0;
  std::uint64_t payload_xxh3 = 0;
  // Per member, in member order: (rank, shard bytes) of each of its ranks, ascending.
  std::vector<std::vector<std::pair<int, std::uint64_t>>> table;

  int members() const noexcept { return static_cast<int>(table.size()); }
  std::vector<std::uint64_t> member_sizes() const;
  std::vector<std::byte> encode() const;
  // Checks magic, version, every count and the header's digest; Error(corrupt_data) naming
  // `file` and the field.
  static ParityHeader decode(std::span<const std::byte> bytes, const std::string& file);
};

// Reads the header of a parity file and checks it belongs to `step`; with `check_payload` also
// reads the payload and compares its size and XXH3. Error(io) when missing or unreadable,
// Error(corrupt_data) when damaged.
ParityHeader read_parity_header(const std::string& path, long step, bool check_payload);
// Reads bytes [offset, offset + out.size()) of the payload of a parity file whose header is
// `header_bytes` long.
void read_parity_payload(int fd, const std::string& path, std::uint64_t header_bytes,
                         std::uint64_t offset, std::span<std::byte> out);

// Member `member`'s share of the rebuild of segment `segment` of member `lost` (member != lost):
// its parity when it holds that segment (xor_holder), else its own segment feeding that parity.
// `parity_fd` reads its parity file (header of `header_bytes`). XOR over every member but the
// lost one gives segment `segment` of the lost member's data.
void rebuild_contribution(MemberData& data, int parity_fd, const std::string& parity_path,
                          std::uint64_t header_bytes, const XorGeometry& g, int member, int lost,
                          int segment, std::uint64_t offset, std::span<std::byte> out);

// What one node folder holds of a step for a rebuild: its parity header (or why it is unusable)
// and the ranks whose shards it holds.
struct ParitySource {
  bool has_parity = false;
  ParityHeader header;
  std::string damage;  // a parity file that is there but unusable
  std::vector<int> shards;
  std::string node;  // the folder's node name, for messages
};
// A group's rebuild: the lost member, and for every other member the source (index into the
// sources) that reads its data and parity.
struct XorRebuildPlan {
  int group = 0;
  int lost = 0;
  std::vector<int> source_of_member;  // -1 for the lost member
  ParityHeader header;                // any member's header (the table is the same in all)
};
// Plans the rebuild of `missing` ranks from the sources: every missing rank must be a member of a
// group whose other members each have a source holding their shards and an intact parity header,
// and each group may miss one member. Returns why not (naming the rank, group and nodes), or an
// empty string with the plans, one per group that misses a member.
std::string plan_xor_rebuild(const Manifest& m, const std::vector<ParitySource>& sources,
                             const std::vector<int>& missing, std::vector<XorRebuildPlan>& plans);

// For `strata ckpt list`: whether the node folders of `local_dir` can rebuild the `missing`
// ranks of `step` from XOR parity (`holders`: the node folders holding each rank's shard).
// Presence and headers only: the payloads are checked by the restore that uses them.
bool xor_rebuildable(const std::string& local_dir, long step, const Manifest& m,
                     const std::map<int, std::vector<std::string>>& holders,
                     const std::vector<int>& missing);

}  // namespace strata::io::detail
