// SPDX-License-Identifier: Apache-2.0
// The pieces of multi-level checkpoints shared by save, drain, restore and the tools: which node
// a rank runs on and its node-local folder, the partner of each rank, moving whole shard files
// between ranks over MPI, copying a shard durably, and publishing a finished step folder.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_manifest.hpp"
#include "strata/runtime/cluster/mpi_context.hpp"

namespace strata::io::detail {

// This process's node name for local folders: STRATA_NODE_NAME when set (tests simulate several
// nodes on one machine with it), else the host name; reduced to [A-Za-z0-9._-] (others become
// '_'), never empty, "." or "..".
std::string node_name(const MpiContext& mpi);
// local_dir/node-<name>: the node's own checkpoint folder of the local level.
std::string node_folder(const std::string& local_dir, const std::string& node);
// Node names of the node folders in local_dir (without the "node-" prefix), sorted.
std::vector<std::string> node_folders(const std::string& local_dir);

// Who runs where, the same on every rank: each rank's node name, and each rank's partner (the
// rank with the same index among its node's ranks on the next node, wrapping around; on a node
// with fewer ranks, that index modulo its count). Collective (one allgather).
struct NodeLayout {
  std::vector<std::string> node_of_rank;
  std::vector<int> partner;  // empty unless asked for
  int nodes = 0;
  // The lowest rank on `rank`'s node: it writes and renames that node's step folders.
  int leader_of(int rank) const;
};
// Throws Error(invalid_argument), on every rank alike, when `with_partner` and every rank runs
// on one node.
NodeLayout node_layout(const MpiContext& mpi, const std::string& mine, bool with_partner);

// Moves files between ranks: in transfer t, rank from[t] sends the file source(t) and rank to[t]
// writes it to target(t) (through target.part, fsynced and renamed: a target is whole or
// absent). Every rank passes the same list. Transfers go in rounds in which a rank sends and
// receives at most once, in pieces of 64 MiB. An I/O failure does not stop the exchange (the
// peer would wait forever): the sender sends zeros, the receiver drops the file, and the
// returned text says what failed on this rank (empty: all well). Throws only for MPI errors.
struct FileTransfer {
  int from = 0;
  int to = 0;
};
std::string transfer_files(const MpiContext& mpi, const std::vector<FileTransfer>& transfers,
                           const std::function<std::string(std::size_t)>& source,
                           const std::function<std::string(std::size_t)>& target);

// A shard drained to `shared` (in the background or by `strata ckpt drain`) is copied in pieces
// of this size (copy_file_in_pieces); the background drain checks between them whether to hurry.
inline constexpr std::size_t kShardCopyPieceBytes = std::size_t{8} << 20;

// Creates `tmp` (step-N.tmp) unless this job already did: an existing name must be a real folder
// of this user, not a planted symbolic link. Throws Error(io).
void create_temp_step_folder(const std::string& tmp);

// Commits `step` in `dir` from its finished step-N.tmp folder: the manifest last, then the rename
// (a committed step-N of an earlier run steps aside and goes after), then the folder's fsync.
void publish_step(const std::string& dir, long step, const Manifest& m);

}  // namespace strata::io::detail
