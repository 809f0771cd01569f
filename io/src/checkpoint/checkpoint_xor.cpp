// SPDX-License-Identifier: Apache-2.0
// The XOR group level over MPI. A save: once every rank's shard is written, each node's lowest
// rank computes its group's parity with the other nodes' lowest ranks in a ring reduce-scatter
// (windows of the segments travel K-1 hops, each hop XORs in its own data) and writes its piece
// into its node folder's step-N.tmp/parity.xor; the commit follows. A restore: when a node's
// shards are gone, the other members of its group send their data and parity along a chain that
// ends at the lost node's lowest rank, which writes the rebuilt shards, checks each against the
// manifest's SHA-256 and only then puts it in place (docs/formats.md, "XOR group level").
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "checkpoint/checkpoint_reader.hpp"
#include "checkpoint/checkpointer_impl.hpp"
#include "checkpoint/xor_parity.hpp"
#include "checksum/xxh3.hpp"
#include "files/file_io.hpp"
#include "files/publish_file.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"

namespace strata::io {

namespace fs = std::filesystem;
using detail::Manifest;

namespace {

// Bytes of a parity window each ring hop sends (three such buffers per node's lowest rank), and
// of all K-1 segments' windows a rebuild hop sends.
constexpr std::uint64_t kXorWindowBytes = std::uint64_t{16} << 20;
constexpr std::uint64_t kShardFailed = ~std::uint64_t{0};
constexpr int kXorTag = 8;
// Where a rebuild writes shards before they are checked: inside the node folder, not a step name.
constexpr const char* kRebuildFolder = ".xor-rebuild";

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

void Checkpointer::Impl::plan_xor_groups() {
  xor_groups = detail::xor_groups(layout.node_of_rank, options.xor_group);
  if (rt.rank() != 0) return;
  for (std::size_t g = 0; g < xor_groups.size(); ++g) {
    if (static_cast<int>(xor_groups[g].size()) != options.xor_group) {
      log::info("checkpoint: XOR group " + std::to_string(g) + " holds " +
                std::to_string(xor_groups[g].size()) + " nodes (xor_group " +
                std::to_string(options.xor_group) + ", " + std::to_string(layout.nodes) +
                " nodes in the job)");
    }
  }
}

std::string Checkpointer::Impl::write_parity(long step, bool shard_ok) {
  MpiContext& mpi = *commit_mpi;
  const int me = mpi.rank();
  const std::string tmp = detail::temp_step_folder(my_node_folder, step);
  std::uint64_t mine = kShardFailed;
  struct stat st {};
  if (shard_ok && ::stat((fs::path(tmp) / detail::shard_name(me)).c_str(), &st) == 0) {
    mine = static_cast<std::uint64_t>(st.st_size);
  }
  const std::vector<std::uint64_t> sizes = mpi.allgather(mine);
  // A failed shard fails the save (its rank says why): no parity to compute.
  if (std::find(sizes.begin(), sizes.end(), kShardFailed) != sizes.end()) return {};
  const detail::XorGroup* group = nullptr;
  int i = -1;
  for (std::size_t g = 0; g < xor_groups.size() && group == nullptr; ++g) {
    for (std::size_t k = 0; k < xor_groups[g].size(); ++k) {
      if (xor_groups[g][k].ranks.front() == me) {
        group = &xor_groups[g];
        i = static_cast<int>(k);
      }
    }
  }
  if (group == nullptr) return {};  // not a node's lowest rank
  const int members = static_cast<int>(group->size());

  detail::ParityHeader header;
  header.step = step;
  header.group = static_cast<int>(group - xor_groups.data());
  header.member = i;
  for (const detail::XorMember& member : *group) {
    header.table.emplace_back();
    for (int r : member.ranks)
      header.table.back().emplace_back(r, sizes[static_cast<std::size_t>(r)]);
  }
  const detail::XorGeometry g = detail::XorGeometry::of(header.member_sizes());
  header.member_bytes = g.member_bytes;
  header.segment_bytes = g.segment_bytes;
  const std::vector<std::byte> placeholder = header.encode();

  // An I/O failure must not stop the ring (the other members would wait forever): this member
  // sends zeros from then on, and the save fails with what went wrong here.
  std::string problem;
  auto note = [&](const std::string& what) {
    if (problem.empty()) problem = what;
  };
  std::optional<detail::MemberData> data;
  try {
    std::vector<detail::MemberData::Piece> pieces;
    for (const auto& [r, bytes] : header.table[static_cast<std::size_t>(i)]) {
      pieces.push_back({(fs::path(tmp) / detail::shard_name(r)).string(), bytes});
    }
    data.emplace(std::move(pieces));
  } catch (const std::exception& e) {
    note(e.what());
  }
  const std::string path = (fs::path(tmp) / detail::kParityName).string();
  Fd out;
  ::unlink(path.c_str());
  out.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (out.fd < 0) note("cannot create the parity file " + path + ": " + std::strerror(errno));

  auto contribution = [&](int holder, std::uint64_t offset, std::span<std::byte> to) {
    if (data) {
      try {
        detail::parity_contribution(*data, g, i, holder, offset, to);
        return;
      } catch (const std::exception& e) {
        note(e.what());
        data.reset();
      }
    }
    std::fill(to.begin(), to.end(), std::byte{0});
  };
  const int next = (*group)[static_cast<std::size_t>((i + 1) % members)].ranks.front();
  const int prev = (*group)[static_cast<std::size_t>((i + members - 1) % members)].ranks.front();
  const auto window = static_cast<std::size_t>(std::min(kXorWindowBytes, g.segment_bytes));
  std::vector<std::byte> send(window);
  std::vector<std::byte> recv(window);
  std::vector<std::byte> own(window);
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  for (std::uint64_t o = 0; o < g.segment_bytes; o += window) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(window, g.segment_bytes - o));
    std::span<std::byte> s(send.data(), n);
    std::span<std::byte> r(recv.data(), n);
    // Ring reduce-scatter: at hop h this member passes on the partial of block i - h - 1 and
    // receives that of block i - h - 2, adding its own share; after K - 1 hops it holds block i,
    // its parity piece, with every member's share in it.
    contribution((i + members - 1) % members, o, s);
    for (int hop = 0; hop < members - 1; ++hop) {
      mpi.sendrecv_bytes(s, next, r, prev, kXorTag);
      const int block = ((i - hop - 2) % members + members) % members;
      if (block != i) {
        std::span<std::byte> mine_part(own.data(), n);
        contribution(block, o, mine_part);
        detail::xor_into(r, mine_part);
      }
      std::swap(s, r);
    }
    XXH3_64bits_update(state, s.data(), n);
    if (out.fd >= 0) {
      try {
        detail::write_all(out.fd, path, placeholder.size() + o, s);
      } catch (const std::exception& e) {
        note(e.what());
        ::close(out.fd);
        out.fd = -1;
      }
    }
  }
  header.payload_xxh3 = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  if (out.fd >= 0 && problem.empty()) {
    try {
      detail::write_all(out.fd, path, 0, header.encode());
      detail::sync_file(out.fd, path);
    } catch (const std::exception& e) {
      note(e.what());
    }
  }
  return problem;
}

std::string Checkpointer::Impl::rebuild_from_parity(long step, const Manifest& m,
                                                    const std::vector<std::vector<int>>& held,
                                                    const std::vector<int>& lost,
                                                    std::vector<detail::FileTransfer>& written,
                                                    std::string& problem) {
  MpiContext& mpi = rt.mpi();
  const int me = rt.rank();
  // Each node's lowest rank reads its folder's parity file whole (header and payload digest).
  std::string mine;
  if (layout.leader_of(me) == me) {
    const std::string path = detail::parity_path(my_node_folder, step);
    std::error_code ec;
    if (fs::exists(path, ec)) {
      try {
        const detail::ParityHeader h = detail::read_parity_header(path, step, true);
        const std::vector<std::byte> bytes = h.encode();
        mine = "H" + std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      } catch (const std::exception& e) {
        mine = "D" + std::string(e.what());
      }
    }
  }
  const auto all = mpi.allgather_bytes(std::as_bytes(std::span(mine.data(), mine.size())));
  std::vector<detail::ParitySource> sources(all.size());
  for (std::size_t r = 0; r < all.size(); ++r) {
    detail::ParitySource& s = sources[r];
    s.node = layout.node_of_rank[r];
    s.shards = held[r];
    if (all[r].empty()) continue;
    const std::span<const std::byte> rest = std::span(all[r]).subspan(1);
    if (all[r][0] == std::byte{'H'}) {
      try {
        s.header = detail::ParityHeader::decode(rest, "rank " + std::to_string(r) + "'s parity");
        s.has_parity = true;
      } catch (const std::exception& e) {
        s.damage = e.what();
      }
    } else {
      s.damage.assign(reinterpret_cast<const char*>(rest.data()), rest.size());
    }
  }
  if (me == 0) {
    for (const detail::ParitySource& s : sources) {
      if (!s.damage.empty()) {
        log::warn("checkpoint " + step_text(step) + ": the XOR parity in node folder '" + s.node +
                  "' is unusable: " + s.damage);
      }
    }
  }
  std::vector<detail::XorRebuildPlan> plans;
  std::string why_not = detail::plan_xor_rebuild(m, sources, lost, plans);
  if (!why_not.empty()) return why_not;

  auto note = [&](const std::string& what) {
    if (problem.empty()) problem = what;
  };
  for (const detail::XorRebuildPlan& plan : plans) {
    const detail::ParityHeader& h = plan.header;
    const int members = h.members();
    const detail::XorGeometry g = detail::XorGeometry::of(h.member_sizes());
    const auto& lost_ranks = h.table[static_cast<std::size_t>(plan.lost)];
    const int writer = lost_ranks.front().first;
    // The chain: the members' readers in member order, one that is also the writer last.
    std::vector<int> chain;
    std::vector<int> member_of;
    for (int k = 0; k < members; ++k) {
      if (k == plan.lost) continue;
      chain.push_back(plan.source_of_member[static_cast<std::size_t>(k)]);
      member_of.push_back(k);
    }
    for (std::size_t q = 0; q + 1 < chain.size(); ++q) {
      if (chain[q] == writer) {
        std::swap(chain[q], chain.back());
        std::swap(member_of[q], member_of.back());
      }
    }
    if (chain.back() != writer) {
      chain.push_back(writer);
      member_of.push_back(-1);
    }
    const auto at = std::find(chain.begin(), chain.end(), me);
    for (const auto& [r, bytes] : lost_ranks) {
      if (std::find(lost.begin(), lost.end(), r) != lost.end()) written.push_back({writer, r});
    }
    if (at == chain.end()) continue;
    const std::size_t pos = static_cast<std::size_t>(at - chain.begin());
    const int member = member_of[pos];

    // A reader's data and parity.
    std::optional<detail::MemberData> data;
    Fd parity;
    const std::string parity_file = detail::parity_path(my_node_folder, step);
    std::uint64_t header_bytes = 0;
    if (member >= 0) {
      try {
        std::vector<detail::MemberData::Piece> pieces;
        for (const auto& [r, bytes] : h.table[static_cast<std::size_t>(member)]) {
          pieces.push_back({detail::shard_path(my_node_folder, step, r), bytes});
        }
        data.emplace(std::move(pieces));
        parity.fd = ::open(parity_file.c_str(), O_RDONLY | O_CLOEXEC);
        if (parity.fd < 0)
          throw_errno("cannot read the parity file", errno, {{"file", parity_file}});
        detail::ParityHeader own = h;
        own.member = member;
        header_bytes = own.encode().size();
      } catch (const std::exception& e) {
        note(e.what());
        data.reset();
      }
    }
    // The writer's rebuilt shards, first outside the step folder.
    std::optional<detail::MemberData> rebuilt;
    const std::string rebuild_dir = (fs::path(my_node_folder) / kRebuildFolder).string();
    if (me == writer) {
      try {
        std::error_code ec;
        fs::remove_all(rebuild_dir, ec);
        detail::make_folder(detail::step_folder(rebuild_dir, step));
        std::vector<detail::MemberData::Piece> pieces;
        for (const auto& [r, bytes] : lost_ranks) {
          pieces.push_back({detail::shard_path(rebuild_dir, step, r), bytes});
        }
        rebuilt.emplace(std::move(pieces), true);
      } catch (const std::exception& e) {
        note(e.what());
      }
    }
    const std::uint64_t window =
        std::max<std::uint64_t>(1, std::min(g.segment_bytes, kXorWindowBytes / (members - 1)));
    const auto segments = static_cast<std::size_t>(members - 1);
    std::vector<std::byte> acc(static_cast<std::size_t>(window) * segments);
    std::vector<std::byte> part(static_cast<std::size_t>(window));
    for (std::uint64_t o = 0; o < g.segment_bytes; o += window) {
      const auto n = static_cast<std::size_t>(std::min(window, g.segment_bytes - o));
      std::span<std::byte> block(acc.data(), n * segments);
      if (pos > 0) {
        mpi.sendrecv_bytes({}, -1, block, chain[pos - 1], kXorTag);
      } else {
        std::fill(block.begin(), block.end(), std::byte{0});
      }
      if (member >= 0) {
        for (std::size_t t = 0; t < segments; ++t) {
          std::span<std::byte> p(part.data(), n);
          if (data) {
            try {
              detail::rebuild_contribution(*data, parity.fd, parity_file, header_bytes, g, member,
                                           plan.lost, static_cast<int>(t), o, p);
            } catch (const std::exception& e) {
              note(e.what());
              data.reset();
            }
          }
          if (data) detail::xor_into(block.subspan(t * n, n), p);
        }
      }
      if (pos + 1 < chain.size()) {
        mpi.sendrecv_bytes(block, chain[pos + 1], {}, -1, kXorTag);
      } else if (rebuilt) {
        try {
          for (std::size_t t = 0; t < segments; ++t) {
            rebuilt->write(t * g.segment_bytes + o, block.subspan(t * n, n));
          }
        } catch (const std::exception& e) {
          note(e.what());
          rebuilt.reset();
        }
      }
    }
    if (me != writer) continue;
    // Each rebuilt shard must match the manifest's SHA-256 before it takes a shard's name.
    if (rebuilt && problem.empty()) {
      try {
        rebuilt->sync();
        rebuilt.reset();
        detail::StepReader check(rebuild_dir, m);
        detail::make_folder(detail::step_folder(my_node_folder, step));
        for (const auto& [r, bytes] : lost_ranks) {
          if (std::find(lost.begin(), lost.end(), r) == lost.end()) continue;
          check.verify_shard(r);
          detail::publish_file(detail::shard_path(rebuild_dir, step, r),
                               detail::shard_path(my_node_folder, step, r),
                               {{"rank", std::to_string(r)}});
        }
      } catch (const std::exception& e) {
        note(std::string("a shard rebuilt from XOR parity is wrong (a damaged parity or shard "
                         "in group ") +
             std::to_string(plan.group) + "): " + e.what());
      }
    }
    std::error_code ec;
    fs::remove_all(rebuild_dir, ec);
  }
  return {};
}

}  // namespace strata::io
