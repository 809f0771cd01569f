// SPDX-License-Identifier: Apache-2.0
// Multi-level checkpoints' shared pieces: node names and node-local folders, the partner map,
// shard files moved between ranks over MPI in rounds, durable copies, and the commit of a
// finished step folder (docs/formats.md, "Checkpoint levels").
#include "checkpoint/checkpoint_levels.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "files/file_io.hpp"
#include "files/publish_file.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kPieceBytes = std::size_t{64} << 20;
constexpr std::uint64_t kUnreadable = ~std::uint64_t{0};
constexpr const char* kNodePrefix = "node-";

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string node_name(const MpiContext& mpi) {
  const char* forced = std::getenv("STRATA_NODE_NAME");
  std::string name = forced != nullptr && *forced != '\0' ? forced : mpi.processor_name();
  if (name.size() > 200) name.resize(200);
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (name.empty() || name == "." || name == "..") name = "node";
  return name;
}

std::string node_folder(const std::string& local_dir, const std::string& node) {
  return (fs::path(local_dir) / (kNodePrefix + node)).string();
}

std::vector<std::string> node_folders(const std::string& local_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(local_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(ec) && name.size() > std::strlen(kNodePrefix) &&
        name.starts_with(kNodePrefix)) {
      names.push_back(name.substr(std::strlen(kNodePrefix)));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

int NodeLayout::leader_of(int rank) const {
  for (int r = 0; r < static_cast<int>(node_of_rank.size()); ++r) {
    if (node_of_rank[static_cast<std::size_t>(r)] == node_of_rank[static_cast<std::size_t>(rank)])
      return r;
  }
  return rank;
}

NodeLayout node_layout(const MpiContext& mpi, const std::string& mine, bool with_partner) {
  NodeLayout layout;
  for (const auto& bytes :
       mpi.allgather_bytes(std::as_bytes(std::span(mine.data(), mine.size())))) {
    layout.node_of_rank.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  // Nodes in order of their lowest rank; each node's ranks in rank order.
  std::vector<std::string> order;
  std::map<std::string, std::vector<int>> ranks_of;
  for (int r = 0; r < mpi.size(); ++r) {
    const std::string& n = layout.node_of_rank[static_cast<std::size_t>(r)];
    if (ranks_of.find(n) == ranks_of.end()) order.push_back(n);
    ranks_of[n].push_back(r);
  }
  layout.nodes = static_cast<int>(order.size());
  if (!with_partner) return layout;
  if (layout.nodes < 2) {
    throw Error(ErrorCategory::invalid_argument,
                "partner copies need ranks on at least two nodes: all " +
                    std::to_string(mpi.size()) + " ranks run on node '" + order.front() +
                    "', and a copy on the same node protects nothing (run on several nodes, or "
                    "drop the partner level)",
                {{"node", order.front()}});
  }
  layout.partner.assign(static_cast<std::size_t>(mpi.size()), -1);
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::vector<int>& here = ranks_of[order[k]];
    const std::vector<int>& next = ranks_of[order[(k + 1) % order.size()]];
    for (std::size_t i = 0; i < here.size(); ++i) {
      layout.partner[static_cast<std::size_t>(here[i])] = next[i % next.size()];
    }
  }
  return layout;
}

std::string transfer_files(const MpiContext& mpi, const std::vector<FileTransfer>& transfers,
                           const std::function<std::string(std::size_t)>& source,
                           const std::function<std::string(std::size_t)>& target) {
  const int me = mpi.rank();
  std::string problem;
  auto note = [&](const std::string& what) {
    if (problem.empty()) problem = what;
  };
  // Every rank learns the size of every file: the sizes of this rank's outgoing ones, gathered.
  std::vector<std::uint64_t> mine;
  for (std::size_t t = 0; t < transfers.size(); ++t) {
    if (transfers[t].from != me) continue;
    struct stat st {};
    if (::stat(source(t).c_str(), &st) != 0) {
      note("cannot send " + source(t) + ": " + std::strerror(errno));
      mine.push_back(kUnreadable);
    } else {
      mine.push_back(static_cast<std::uint64_t>(st.st_size));
    }
  }
  const auto all = mpi.allgather_bytes(std::as_bytes(std::span(mine)));
  std::vector<std::uint64_t> size(transfers.size());
  std::vector<std::size_t> next_of(static_cast<std::size_t>(mpi.size()), 0);
  for (std::size_t t = 0; t < transfers.size(); ++t) {
    const auto& bytes = all.at(static_cast<std::size_t>(transfers[t].from));
    std::size_t& k = next_of[static_cast<std::size_t>(transfers[t].from)];
    std::memcpy(&size[t], bytes.data() + k * sizeof(std::uint64_t), sizeof(std::uint64_t));
    ++k;
  }
  // Rounds: each transfer goes in the first round where its sender sends nothing yet and its
  // receiver receives nothing yet.
  std::vector<std::vector<std::size_t>> rounds;
  for (std::size_t t = 0; t < transfers.size(); ++t) {
    std::size_t r = 0;
    for (; r < rounds.size(); ++r) {
      bool busy = false;
      for (std::size_t u : rounds[r]) {
        busy = busy || transfers[u].from == transfers[t].from || transfers[u].to == transfers[t].to;
      }
      if (!busy) break;
    }
    if (r == rounds.size()) rounds.emplace_back();
    rounds[r].push_back(t);
  }
  // Pieces no larger than the largest file moved (the same on every rank: all know every size),
  // so small shards do not cost two zeroed 64 MiB buffers per exchange.
  std::uint64_t largest = 1;
  for (std::uint64_t bytes : size) {
    if (bytes != kUnreadable) largest = std::max(largest, bytes);
  }
  const std::size_t piece_bytes =
      static_cast<std::size_t>(std::min<std::uint64_t>(kPieceBytes, largest));
  std::vector<std::byte> out_piece(piece_bytes);
  std::vector<std::byte> in_piece(piece_bytes);
  for (const auto& round : rounds) {
    std::optional<std::size_t> send_t;
    std::optional<std::size_t> recv_t;
    for (std::size_t t : round) {
      if (transfers[t].from == me) send_t = t;
      if (transfers[t].to == me) recv_t = t;
    }
    const std::uint64_t send_bytes = send_t && size[*send_t] != kUnreadable ? size[*send_t] : 0;
    std::uint64_t recv_bytes = recv_t ? size[*recv_t] : 0;
    if (recv_t && recv_bytes == kUnreadable) {
      note("rank " + std::to_string(transfers[*recv_t].from) + " could not send " +
           target(*recv_t));
      recv_bytes = 0;
    }
    Fd in;
    if (send_t && send_bytes > 0) {
      in.fd = ::open(source(*send_t).c_str(), O_RDONLY | O_CLOEXEC);
      if (in.fd < 0) note("cannot read " + source(*send_t) + ": " + std::strerror(errno));
    }
    std::optional<AppendWriter> out;
    std::string out_part;
    if (recv_t && recv_bytes > 0) {
      out_part = target(*recv_t) + ".part";
      try {
        std::error_code ec;
        fs::remove(out_part, ec);
        out.emplace(out_part, 0666);
      } catch (const Error& e) {
        note(e.what());
      }
    }
    const std::uint64_t pieces = std::max((send_bytes + piece_bytes - 1) / piece_bytes,
                                          (recv_bytes + piece_bytes - 1) / piece_bytes);
    for (std::uint64_t p = 0; p < pieces; ++p) {
      const std::uint64_t at = p * piece_bytes;
      std::span<const std::byte> send_span;
      int to = -1;
      if (at < send_bytes) {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(piece_bytes, send_bytes - at));
        send_span = std::span(out_piece.data(), n);
        if (in.fd >= 0) {
          try {
            read_all(in.fd, source(*send_t), at, std::span(out_piece.data(), n));
          } catch (const Error& e) {
            note(e.what());
            ::close(in.fd);
            in.fd = -1;
          }
        }
        if (in.fd < 0) std::fill_n(out_piece.begin(), n, std::byte{0});
        to = transfers[*send_t].to;
      }
      std::span<std::byte> recv_span;
      int from = -1;
      if (at < recv_bytes) {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(piece_bytes, recv_bytes - at));
        recv_span = std::span(in_piece.data(), n);
        from = transfers[*recv_t].from;
      }
      mpi.sendrecv_bytes(send_span, to, recv_span, from, 7);
      if (out && !recv_span.empty()) {
        try {
          out->append(recv_span);
        } catch (const Error& e) {
          note(e.what());
          out.reset();
        }
      }
    }
    if (out) {
      try {
        out->finish();
        out.reset();
        publish_file(out_part, target(*recv_t), {{"file", target(*recv_t)}});
      } catch (const Error& e) {
        note(e.what());
      }
    }
    if (!out_part.empty() && !problem.empty()) {
      std::error_code ec;
      fs::remove(out_part, ec);
    }
  }
  return problem;
}

void create_temp_step_folder(const std::string& tmp) {
  if (::mkdir(tmp.c_str(), 0777) == 0) return;
  if (errno != EEXIST) throw_errno("cannot create the step folder", errno, {{"folder", tmp}});
  struct stat st {};
  if (::lstat(tmp.c_str(), &st) != 0)
    throw_errno("cannot examine the step folder", errno, {{"folder", tmp}});
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    throw Error(ErrorCategory::io,
                "the step's temporary folder exists and is not a folder this job made",
                {{"folder", tmp}});
  }
}

void publish_step(const std::string& dir, long step, const Manifest& m) {
  const std::string tmp = temp_step_folder(dir, step);
  const std::string final_folder = step_folder(dir, step);
  write_file_durably((fs::path(tmp) / kManifestName).string(), encode_manifest(m));
  std::string replaced;
  if (fs::exists(final_folder)) {
    replaced = final_folder + ".replaced";
    std::error_code ec;
    fs::remove_all(replaced, ec);
    if (::rename(final_folder.c_str(), replaced.c_str()) != 0) {
      throw_errno("cannot move the old step aside", errno, {{"folder", final_folder}});
    }
  }
  if (::rename(tmp.c_str(), final_folder.c_str()) != 0) {
    throw_errno("cannot rename the finished checkpoint", errno, {{"folder", tmp}});
  }
  sync_folder(dir, {{"folder", dir}});
  if (!replaced.empty()) {
    std::error_code ec;
    fs::remove_all(replaced, ec);
  }
}

}  // namespace strata::io::detail
