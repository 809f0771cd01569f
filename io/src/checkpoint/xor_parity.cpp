// SPDX-License-Identifier: Apache-2.0
// The XOR group level's parity math and file format, without MPI: groups of nodes, the segment
// map, a node's shards read (or rebuilt) as one zero-padded byte string, and the parity file's
// header, checked field by field (docs/formats.md, "XOR group level").
#include "checkpoint/xor_parity.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "checkpoint/checkpoint_levels.hpp"
#include "checksum/xxh3.hpp"
#include "files/file_io.hpp"
#include "format/byte_fields.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {
namespace {

constexpr char kParityMagic[8] = {'S', 'T', 'R', 'X', 'O', 'R', '\r', '\n'};
constexpr std::uint32_t kParityVersion = 1;
constexpr std::size_t kFixedBytes = 64;
constexpr std::size_t kEntryBytes = 12;  // u32 rank, u64 shard bytes
constexpr int kMaxMembers = 1 << 16;
// Pieces read from a parity file at a time when its payload is checked.
constexpr std::size_t kCheckBytes = std::size_t{8} << 20;

[[noreturn]] void refuse(const std::string& file, const char* field, const std::string& what) {
  throw Error(ErrorCategory::corrupt_data, "parity file " + what,
              {{"file", file}, {"field", field}});
}

std::uint64_t segments_of(std::uint64_t member_bytes, int members) {
  const auto parts = static_cast<std::uint64_t>(members - 1);
  return (member_bytes + parts - 1) / parts;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string parity_path(const std::string& dir, long step) {
  return (std::filesystem::path(step_folder(dir, step)) / kParityName).string();
}

std::vector<XorGroup> xor_groups(const std::vector<std::string>& node_of_rank, int group_size) {
  if (group_size < 2) {
    throw Error(ErrorCategory::invalid_argument, "an XOR group needs at least two nodes",
                {{"xor_group", std::to_string(group_size)}});
  }
  std::vector<XorMember> nodes;
  for (int r = 0; r < static_cast<int>(node_of_rank.size()); ++r) {
    const std::string& n = node_of_rank[static_cast<std::size_t>(r)];
    auto it =
        std::find_if(nodes.begin(), nodes.end(), [&](const XorMember& m) { return m.node == n; });
    if (it == nodes.end()) {
      nodes.push_back({n, {r}});
    } else {
      it->ranks.push_back(r);
    }
  }
  if (nodes.size() < 2) {
    throw Error(ErrorCategory::invalid_argument,
                "XOR parity needs ranks on at least two nodes: all " +
                    std::to_string(node_of_rank.size()) + " ranks run on node '" +
                    (nodes.empty() ? std::string() : nodes.front().node) +
                    "', and parity on the same node protects nothing (run on several nodes, or "
                    "drop the XOR level)",
                {{"xor_group", std::to_string(group_size)}});
  }
  const std::size_t size = static_cast<std::size_t>(group_size);
  const std::size_t count = std::max<std::size_t>(1, nodes.size() / size);
  std::vector<XorGroup> groups(count);
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    groups[std::min(k / size, count - 1)].push_back(std::move(nodes[k]));
  }
  return groups;
}

XorGeometry XorGeometry::of(const std::vector<std::uint64_t>& member_bytes) {
  XorGeometry g;
  g.members = static_cast<int>(member_bytes.size());
  for (std::uint64_t b : member_bytes) g.member_bytes = std::max(g.member_bytes, b);
  g.segment_bytes = g.members < 2 ? 0 : segments_of(g.member_bytes, g.members);
  return g;
}

int xor_segment(int member, int holder, int members) {
  return ((holder - member - 1) % members + members) % members;
}

int xor_holder(int lost, int segment, int members) { return (lost + 1 + segment) % members; }

void xor_into(std::span<std::byte> acc, std::span<const std::byte> in) noexcept {
  std::size_t i = 0;
  // Word by word (the compiler vectorises it), then the tail.
  for (; i + 8 <= acc.size(); i += 8) {
    std::uint64_t a;
    std::uint64_t b;
    std::memcpy(&a, acc.data() + i, 8);
    std::memcpy(&b, in.data() + i, 8);
    a ^= b;
    std::memcpy(acc.data() + i, &a, 8);
  }
  for (; i < acc.size(); ++i) acc[i] ^= in[i];
}

MemberData::MemberData(std::vector<Piece> pieces, bool create) : pieces_(std::move(pieces)) {
  for (const Piece& p : pieces_) {
    const int fd = create ? ::open(p.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)
                          : ::open(p.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int e = errno;
      for (int open_fd : fds_) ::close(open_fd);
      throw_errno(create ? "cannot create a rebuilt shard" : "cannot read a shard for XOR parity",
                  e, {{"file", p.path}});
    }
    fds_.push_back(fd);
    bytes_ += p.bytes;
  }
}

MemberData::~MemberData() {
  for (int fd : fds_) ::close(fd);
}

template <class Io>
std::size_t MemberData::each_piece(std::uint64_t offset, std::size_t bytes, Io io) const {
  std::uint64_t start = 0;  // of the current piece in the data
  std::size_t done = 0;
  for (std::size_t k = 0; k < pieces_.size() && done < bytes; ++k) {
    const std::uint64_t end = start + pieces_[k].bytes;
    const std::uint64_t at = offset + done;
    if (at < end) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(end - at, bytes - done));
      io(k, at - start, done, n);
      done += n;
    }
    start = end;
  }
  return done;
}

void MemberData::read(std::uint64_t offset, std::span<std::byte> out) {
  const std::size_t done = each_piece(
      offset, out.size(), [&](std::size_t k, std::uint64_t at, std::size_t from, std::size_t n) {
        read_all(fds_[k], pieces_[k].path, at, out.subspan(from, n));
      });
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(done), out.end(), std::byte{0});
}

void MemberData::write(std::uint64_t offset, std::span<const std::byte> in) {
  each_piece(offset, in.size(),
             [&](std::size_t k, std::uint64_t at, std::size_t from, std::size_t n) {
               write_all(fds_[k], pieces_[k].path, at, in.subspan(from, n));
             });
}

void MemberData::sync() {
  for (std::size_t k = 0; k < pieces_.size(); ++k) {
    if (::ftruncate(fds_[k], static_cast<off_t>(pieces_[k].bytes)) != 0) {
      throw_errno("cannot size a rebuilt shard", errno, {{"file", pieces_[k].path}});
    }
    sync_file(fds_[k], pieces_[k].path);
  }
}

void parity_contribution(MemberData& data, const XorGeometry& g, int member, int holder,
                         std::uint64_t offset, std::span<std::byte> out) {
  if (holder == member) {
    std::fill(out.begin(), out.end(), std::byte{0});
    return;
  }
  const auto segment = static_cast<std::uint64_t>(xor_segment(member, holder, g.members));
  data.read(segment * g.segment_bytes + offset, out);
}

std::vector<std::uint64_t> ParityHeader::member_sizes() const {
  std::vector<std::uint64_t> sizes;
  for (const auto& ranks : table) {
    std::uint64_t total = 0;
    for (const auto& [rank, bytes] : ranks) total += bytes;
    sizes.push_back(total);
  }
  return sizes;
}

std::vector<std::byte> ParityHeader::encode() const {
  std::size_t entries = 0;
  for (const auto& ranks : table) entries += ranks.size();
  std::vector<std::byte> out(kFixedBytes + 4 * table.size() + kEntryBytes * entries + 8);
  std::memcpy(out.data(), kParityMagic, sizeof kParityMagic);
  put_le(out, 8, kParityVersion);
  put_le(out, 12, static_cast<std::uint32_t>(table.size()));
  put_le(out, 16, static_cast<std::uint32_t>(member));
  put_le(out, 20, static_cast<std::uint32_t>(group));
  put_le(out, 24, static_cast<std::int64_t>(step));
  put_le(out, 32, member_bytes);
  put_le(out, 40, segment_bytes);
  put_le(out, 48, payload_xxh3);
  put_le(out, 56, static_cast<std::uint64_t>(entries));
  std::size_t at = kFixedBytes;
  for (const auto& ranks : table) {
    put_le(out, at, static_cast<std::uint32_t>(ranks.size()));
    at += 4;
  }
  for (const auto& ranks : table) {
    for (const auto& [rank, bytes] : ranks) {
      put_le(out, at, static_cast<std::uint32_t>(rank));
      put_le(out, at + 4, bytes);
      at += kEntryBytes;
    }
  }
  put_le(out, at, XXH3_64bits(out.data(), at));
  return out;
}

ParityHeader ParityHeader::decode(std::span<const std::byte> bytes, const std::string& file) {
  if (bytes.size() < kFixedBytes + 8) refuse(file, "size", "is shorter than its header");
  if (std::memcmp(bytes.data(), kParityMagic, sizeof kParityMagic) != 0)
    refuse(file, "magic", "is not a strata parity file");
  if (get_le<std::uint32_t>(bytes, 8) != kParityVersion)
    refuse(file, "version",
           "has an unknown version " + std::to_string(get_le<std::uint32_t>(bytes, 8)));
  const std::uint32_t members = get_le<std::uint32_t>(bytes, 12);
  const std::uint64_t entries = get_le<std::uint64_t>(bytes, 56);
  if (members < 2 || members > kMaxMembers) refuse(file, "members", "has a bad member count");
  if (entries < members || entries > static_cast<std::uint64_t>(kMaxCheckpointRanks))
    refuse(file, "entries", "has a bad rank count");
  const std::uint64_t size = kFixedBytes + 4 * std::uint64_t{members} + kEntryBytes * entries + 8;
  if (bytes.size() < size) refuse(file, "size", "is shorter than its header");
  if (get_le<std::uint64_t>(bytes, size - 8) != XXH3_64bits(bytes.data(), size - 8))
    refuse(file, "header digest", "header is damaged (its XXH3 does not match)");
  ParityHeader h;
  h.member = static_cast<int>(get_le<std::uint32_t>(bytes, 16));
  h.group = static_cast<int>(get_le<std::uint32_t>(bytes, 20));
  h.step = static_cast<long>(get_le<std::int64_t>(bytes, 24));
  h.member_bytes = get_le<std::uint64_t>(bytes, 32);
  h.segment_bytes = get_le<std::uint64_t>(bytes, 40);
  h.payload_xxh3 = get_le<std::uint64_t>(bytes, 48);
  if (h.member < 0 || h.member >= static_cast<int>(members))
    refuse(file, "member", "names no member");
  if (h.group < 0 || h.group > kMaxCheckpointRanks) refuse(file, "group", "has a bad group");
  h.table.resize(members);
  std::size_t at = kFixedBytes;
  std::uint64_t counted = 0;
  std::vector<std::uint32_t> counts(members);
  for (auto& c : counts) {
    c = get_le<std::uint32_t>(bytes, at);
    at += 4;
    counted += c;
    if (c == 0) refuse(file, "member ranks", "has a member without ranks");
  }
  if (counted != entries) refuse(file, "member ranks", "counts do not add up to its entries");
  for (std::uint32_t k = 0; k < members; ++k) {
    for (std::uint32_t e = 0; e < counts[k]; ++e) {
      const auto rank = get_le<std::uint32_t>(bytes, at);
      const auto shard = get_le<std::uint64_t>(bytes, at + 4);
      at += kEntryBytes;
      if (rank >= static_cast<std::uint32_t>(kMaxCheckpointRanks))
        refuse(file, "rank", "names a bad rank");
      h.table[k].emplace_back(static_cast<int>(rank), shard);
    }
  }
  const XorGeometry g = XorGeometry::of(h.member_sizes());
  if (g.member_bytes != h.member_bytes || g.segment_bytes != h.segment_bytes)
    refuse(file, "segment_bytes", "sizes do not match its member table");
  return h;
}

ParityHeader read_parity_header(const std::string& path, long step, bool check_payload) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (f.fd < 0) throw_errno("cannot read the parity file", errno, {{"file", path}});
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode))
    refuse(path, "type", "is not a regular file");
  const auto file_bytes = static_cast<std::uint64_t>(st.st_size);
  std::vector<std::byte> fixed(kFixedBytes);
  if (file_bytes < kFixedBytes) refuse(path, "size", "is shorter than its header");
  read_all(f.fd, path, 0, fixed);
  const std::uint64_t members = get_le<std::uint32_t>(fixed, 12);
  const std::uint64_t entries = get_le<std::uint64_t>(fixed, 56);
  if (members > kMaxMembers || entries > static_cast<std::uint64_t>(kMaxCheckpointRanks))
    refuse(path, "entries", "has a bad rank count");
  const std::uint64_t header_bytes = kFixedBytes + 4 * members + kEntryBytes * entries + 8;
  if (file_bytes < header_bytes) refuse(path, "size", "is shorter than its header");
  std::vector<std::byte> bytes(static_cast<std::size_t>(header_bytes));
  read_all(f.fd, path, 0, bytes);
  ParityHeader h = ParityHeader::decode(bytes, path);
  if (h.step != step) refuse(path, "step", "belongs to step " + std::to_string(h.step));
  if (file_bytes != header_bytes + h.segment_bytes)
    refuse(path, "size",
           "is " + std::to_string(file_bytes) + " bytes, expected " +
               std::to_string(header_bytes + h.segment_bytes));
  if (check_payload) {
    XXH3_state_t* state = XXH3_createState();
    XXH3_64bits_reset(state);
    std::vector<std::byte> piece(static_cast<std::size_t>(
        std::max<std::uint64_t>(1, std::min<std::uint64_t>(kCheckBytes, h.segment_bytes))));
    try {
      for (std::uint64_t at = 0; at < h.segment_bytes; at += piece.size()) {
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), h.segment_bytes - at));
        read_all(f.fd, path, header_bytes + at, std::span(piece.data(), n));
        XXH3_64bits_update(state, piece.data(), n);
      }
    } catch (...) {
      XXH3_freeState(state);
      throw;
    }
    const std::uint64_t digest = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    if (digest != h.payload_xxh3)
      refuse(path, "payload digest", "parity is damaged (its XXH3 does not match)");
  }
  return h;
}

void read_parity_payload(int fd, const std::string& path, std::uint64_t header_bytes,
                         std::uint64_t offset, std::span<std::byte> out) {
  read_all(fd, path, header_bytes + offset, out);
}

void rebuild_contribution(MemberData& data, int parity_fd, const std::string& parity_path,
                          std::uint64_t header_bytes, const XorGeometry& g, int member, int lost,
                          int segment, std::uint64_t offset, std::span<std::byte> out) {
  const int holder = xor_holder(lost, segment, g.members);
  if (holder == member) {
    read_parity_payload(parity_fd, parity_path, header_bytes, offset, out);
  } else {
    parity_contribution(data, g, member, holder, offset, out);
  }
}

std::string plan_xor_rebuild(const Manifest& m, const std::vector<ParitySource>& sources,
                             const std::vector<int>& missing, std::vector<XorRebuildPlan>& plans) {
  plans.clear();
  // Groups by index, from any intact header of theirs.
  std::map<int, ParityHeader> groups;
  for (const ParitySource& s : sources) {
    if (s.has_parity && groups.find(s.header.group) == groups.end())
      groups[s.header.group] = s.header;
  }
  auto held_by = [&](const ParitySource& s,
                     const std::vector<std::pair<int, std::uint64_t>>& ranks) {
    for (const auto& [rank, bytes] : ranks) {
      if (std::find(s.shards.begin(), s.shards.end(), rank) == s.shards.end()) return false;
    }
    return true;
  };
  std::string damage;
  for (const ParitySource& s : sources) {
    if (!s.damage.empty() && damage.empty()) damage = " (" + s.node + ": " + s.damage + ")";
  }
  for (int rank : missing) {
    if (std::any_of(plans.begin(), plans.end(), [&](const XorRebuildPlan& p) {
          for (const auto& [r, b] : p.header.table[static_cast<std::size_t>(p.lost)])
            if (r == rank) return true;
          return false;
        })) {
      continue;
    }
    const ParityHeader* h = nullptr;
    int member = -1;
    for (const auto& [g, header] : groups) {
      for (int k = 0; k < header.members() && h == nullptr; ++k) {
        for (const auto& [r, b] : header.table[static_cast<std::size_t>(k)]) {
          if (r == rank) {
            h = &header;
            member = k;
          }
        }
      }
      if (h != nullptr) break;
    }
    if (h == nullptr) {
      return "the shard of rank " + std::to_string(rank) +
             " is in no node-local folder, and no XOR parity covers it" + damage;
    }
    for (int k = 0; k < h->members(); ++k) {
      for (const auto& [r, bytes] : h->table[static_cast<std::size_t>(k)]) {
        if (r < 0 || r >= m.ranks || m.shards[static_cast<std::size_t>(r)].bytes != bytes)
          return "the XOR parity of group " + std::to_string(h->group) +
                 " does not match the step's manifest (rank " + std::to_string(r) + ")";
      }
    }
    XorRebuildPlan plan;
    plan.group = h->group;
    plan.lost = member;
    plan.header = *h;
    plan.source_of_member.assign(static_cast<std::size_t>(h->members()), -1);
    std::string lost_nodes = "member " + std::to_string(member);
    if (static_cast<std::size_t>(rank) < m.nodes.size())
      lost_nodes = "node " + m.nodes[static_cast<std::size_t>(rank)];
    for (int k = 0; k < h->members(); ++k) {
      if (k == member) continue;
      const auto& ranks = h->table[static_cast<std::size_t>(k)];
      for (int s = 0; s < static_cast<int>(sources.size()); ++s) {
        const ParitySource& src = sources[static_cast<std::size_t>(s)];
        if (src.has_parity && src.header.group == h->group && src.header.member == k &&
            held_by(src, ranks)) {
          plan.source_of_member[static_cast<std::size_t>(k)] = s;
          break;
        }
      }
      if (plan.source_of_member[static_cast<std::size_t>(k)] < 0) {
        const int first = ranks.front().first;
        lost_nodes += first < static_cast<int>(m.nodes.size())
                          ? " and node " + m.nodes[static_cast<std::size_t>(first)]
                          : " and member " + std::to_string(k);
        return "XOR group " + std::to_string(h->group) + " lost " + lost_nodes +
               " (their shards or parity): a group survives the loss of one node" + damage;
      }
    }
    plans.push_back(std::move(plan));
  }
  return {};
}

bool xor_rebuildable(const std::string& local_dir, long step, const Manifest& m,
                     const std::map<int, std::vector<std::string>>& holders,
                     const std::vector<int>& missing) {
  std::vector<ParitySource> sources;
  for (const std::string& node : node_folders(local_dir)) {
    ParitySource s;
    s.node = node;
    for (const auto& [rank, nodes] : holders) {
      if (std::find(nodes.begin(), nodes.end(), node) != nodes.end()) s.shards.push_back(rank);
    }
    const std::string path = parity_path(node_folder(local_dir, node), step);
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      try {
        s.header = read_parity_header(path, step, false);
        s.has_parity = true;
      } catch (const Error& e) {
        s.damage = e.what();
      }
    }
    sources.push_back(std::move(s));
  }
  std::vector<XorRebuildPlan> plans;
  return plan_xor_rebuild(m, sources, missing, plans).empty();
}

}  // namespace strata::io::detail
