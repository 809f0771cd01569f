// SPDX-License-Identifier: Apache-2.0
// MpiContext: the process's place among the job's ranks. It initialises MPI when an MPI launcher
// (mpirun, srun) started the process; started directly, the process is rank 0 of 1 without MPI
// (no MPI_Init, no singleton daemon) and every collective is local. It knows rank, size,
// node-local rank and node count, and offers collective helpers for plain values and for
// mergeable result types.
//
//   strata::MpiContext mpi(argc, argv);
//   double total = mpi.allreduce_sum(local_total);
//   Stats s = mpi.allreduce(local_stats);   // Stats has `void merge(const Stats&)`
//
// mpi.h is not needed by users: the collectives move bytes, and mergeable types are merged along
// one fixed tree over the ranks in rank order (merge_tree_bytes), whatever MPI's own reduction
// tree would have been, and the root's result is broadcast: every rank gets the same bits.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace strata {

// A result that can absorb another partial result of the same kind (statistics, histograms).
// Trivially copyable so it can travel between ranks as bytes.
template <class T>
concept Mergeable = std::is_trivially_copyable_v<T> && requires(T& a, const T& b) { a.merge(b); };

// A mergeable result of variable size (a histogram's bins): it travels as the bytes of
// serialize() and comes back through T::deserialize.
template <class T>
concept SerializableMergeable = !Mergeable<T> && requires(T& a, const T& b, std::span<const std::byte> bytes) {
  a.merge(b);
  { b.serialize() } -> std::convertible_to<std::vector<std::byte>>;
  { T::deserialize(bytes) } -> std::convertible_to<T>;
};

enum class MpiThreadLevel { single, funneled, serialized, multiple };

// When a context starts MPI.
//   when_launched: only when an MPI launcher started the process (see mpi_launcher_variable) or
//                  STRATA_MPI=always is set; otherwise the context is rank 0 of 1 without MPI.
//   always:        always, as an MPI singleton when no launcher started the process.
// MPI that the program initialised itself is attached to in either case.
enum class MpiStart { when_launched, always };

// The environment variable that shows an MPI launcher started this process, or an empty string.
// The rule: any of OMPI_COMM_WORLD_SIZE (Open MPI's mpirun), PMIX_RANK (PMIx launchers: prterun,
// srun --mpi=pmix), PMI_RANK or PMI_SIZE (MPICH/Intel hydra, srun --mpi=pmi2) is set, or the
// process is a task of a Slurm step of more than one task (SLURM_STEP_ID with SLURM_STEP_NUM_TASKS,
// else SLURM_NTASKS, above 1: srun without an MPI plugin, where MPI decides what that means).
// A Slurm batch script itself (no SLURM_STEP_ID) is not a launch. Pure function of `environment`.
std::string mpi_launcher_variable(const std::map<std::string, std::string>& environment);
// The same on the process environment.
std::string mpi_launcher_variable_from_environment();

class MpiContext {
 public:
  // Attaches to MPI when the program already initialised it (and will not finalize it). Otherwise
  // initialises MPI when `start` asks for it (see MpiStart; STRATA_MPI=always in the environment
  // turns when_launched into always), requesting MPI_THREAD_MULTIPLE; thread_level() says what the
  // library provided. Otherwise MPI is not touched: rank 0 of 1 on one node, thread level
  // multiple, collectives that hand back their input (with the same argument checks as under
  // MPI). Throws Error(distributed) if initialisation fails, Error(config) for a STRATA_MPI value
  // other than "auto" or "always".
  MpiContext(int& argc, char**& argv, MpiStart start = MpiStart::when_launched);
  // Same, for programs that have no argc/argv at hand (tests, libraries).
  explicit MpiContext(MpiStart start = MpiStart::when_launched);
  // Finalizes MPI if this object initialised it. If it did, and it is destroyed while an
  // exception unwinds and the job has more than one rank, it aborts the job instead (MPI_Abort):
  // the other ranks would otherwise wait forever in their next collective. MPI can be initialised
  // once per process: constructing a context after the owning one was destroyed throws
  // Error(distributed). Collectives throw Error(distributed) when MPI reports an error,
  // Error(invalid_argument) for a root outside [0, size()), and Error(unsupported) for messages
  // over 2 GiB; every rank sees the same sizes, so every rank throws alike.
  ~MpiContext();
  MpiContext(const MpiContext&) = delete;
  MpiContext& operator=(const MpiContext&) = delete;

  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  // Rank among the ranks sharing this node (MPI_COMM_TYPE_SHARED), and how many share it.
  int local_rank() const noexcept { return local_rank_; }
  int local_size() const noexcept { return local_size_; }
  // Number of distinct nodes in the job, and this node's index among them (0-based, numbered by
  // each node's lowest rank).
  int node_count() const noexcept { return node_count_; }
  int node_index() const noexcept { return node_index_; }
  MpiThreadLevel thread_level() const noexcept { return thread_level_; }
  // True when MPI runs under this context; false for a process started without a launcher.
  bool uses_mpi() const noexcept { return uses_mpi_; }
  // The MPI library's own version string ("Open MPI v4.1.4, ..."), whether MPI runs or not.
  std::string library_version() const;
  // Name of this host as MPI sees it (gethostname without MPI).
  std::string processor_name() const;

  // A context on a duplicate of this one's communicator (MPI_Comm_dup; collective): the same
  // ranks, but its collectives never match this one's. For a background thread running its own
  // protocol (the checkpointer's commit) while the application keeps using this context; needs
  // thread_level() == multiple when both run at once. Freed on destruction (before MPI ends).
  std::unique_ptr<MpiContext> duplicate() const;

  // Sends `send` to `destination` and receives into `receive` from `source` at once
  // (MPI_Sendrecv); -1 for either side means "nobody" (a domain edge). `receive` must be exactly
  // the size of the incoming message. For halo exchanges.
  void sendrecv_bytes(std::span<const std::byte> send, int destination,
                      std::span<std::byte> receive, int source, int tag = 0) const;

  void barrier() const;
  // Ends every rank of the job with this exit code (MPI_Abort). For unrecoverable errors.
  [[noreturn]] void abort(int exit_code) const noexcept;

  // Element-wise reductions over all ranks; every rank receives the result.
  double allreduce_sum(double v) const;
  double allreduce_min(double v) const;
  double allreduce_max(double v) const;
  std::int64_t allreduce_sum(std::int64_t v) const;
  std::int64_t allreduce_min(std::int64_t v) const;
  std::int64_t allreduce_max(std::int64_t v) const;
  std::uint64_t allreduce_sum(std::uint64_t v) const;
  bool allreduce_and(bool v) const;
  bool allreduce_or(bool v) const;
  void allreduce_sum(std::span<double> values) const;
  void allreduce_sum(std::span<std::uint64_t> values) const;

  // Every rank's bytes, concatenated in rank order, on every rank (sizes may differ per rank).
  std::vector<std::vector<std::byte>> allgather_bytes(std::span<const std::byte> mine) const;
  // Every rank's bytes at `root` in rank order; other ranks get an empty vector.
  std::vector<std::vector<std::byte>> gather_bytes(std::span<const std::byte> mine, int root) const;
  // Root's bytes on every rank.
  std::vector<std::byte> broadcast_bytes(std::span<const std::byte> mine, int root) const;

  // Each rank's value of a trivially copyable T, in rank order, on every rank / at root.
  template <class T>
    requires std::is_trivially_copyable_v<T>
  std::vector<T> allgather(const T& mine) const {
    return from_bytes<T>(allgather_bytes(as_bytes(mine)));
  }
  template <class T>
    requires std::is_trivially_copyable_v<T>
  std::vector<T> gather(const T& mine, int root) const {
    return from_bytes<T>(gather_bytes(as_bytes(mine), root));
  }
  std::vector<std::string> gather(const std::string& mine, int root) const;

  // Merges every rank's partial result along the ranks' merge tree (merge_tree_bytes): ranks
  // [lo, hi) split at lo + (hi - lo) / 2, the left half's result absorbing the right's — the split
  // the scheduler's reduce uses over chunks, so when the ranks hold equal blocks of a power-of-two
  // number of whole chunk subtrees (2^k ranks, equal shares) the ranks' tree continues the chunk
  // tree: one rank's merges. Every rank gets the same bits (the root's). log2(P) messages of
  // one partial on the longest path, then a broadcast. Error(distributed) when a rank's partial
  // has another size than this rank's (ranks passed different types).
  template <Mergeable T>
  T allreduce(const T& mine) const {
    const std::vector<std::byte> merged = merge_tree_bytes(
        as_bytes(mine),
        [](std::vector<std::byte>& left, std::span<const std::byte> right) {
          T a;
          T b;
          std::memcpy(&a, left.data(), sizeof(T));
          std::memcpy(&b, right.data(), sizeof(T));
          a.merge(b);
          std::memcpy(left.data(), &a, sizeof(T));
        },
        true);
    T result;
    std::memcpy(&result, merged.data(), sizeof(T));
    return result;
  }
  // The same for variable-size results: partials travel as serialize()'s bytes.
  template <SerializableMergeable T>
  T allreduce(const T& mine) const {
    const std::vector<std::byte> merged = merge_tree_bytes(
        mine.serialize(),
        [](std::vector<std::byte>& left, std::span<const std::byte> right) {
          T a = T::deserialize(left);
          a.merge(T::deserialize(right));
          left = a.serialize();
        },
        false);
    return T::deserialize(merged);
  }

  // What allreduce runs on: ranks [lo, hi) of the whole job [0, size) split at
  // lo + (hi - lo) / 2; rank lo merges its half's bytes with the right half's, which rank mid
  // sends it (point to point, a tag of its own), so rank 0 ends with the root's bytes, which are
  // then broadcast. `merge(left, right)` turns left into left merged with right. Same-sized
  // partials (`same_size`) skip the broadcast of the size and must all be mine.size() bytes.
  // One rank: `mine` back, merge never called.
  using MergeBytes =
      std::function<void(std::vector<std::byte>& left, std::span<const std::byte> right)>;
  std::vector<std::byte> merge_tree_bytes(std::span<const std::byte> mine, const MergeBytes& merge,
                                          bool same_size) const;

 private:
  template <class T>
  static std::span<const std::byte> as_bytes(const T& v) {
    return {reinterpret_cast<const std::byte*>(&v), sizeof(T)};
  }
  template <class T>
  static std::vector<T> from_bytes(const std::vector<std::vector<std::byte>>& parts) {
    std::vector<T> out(parts.size());
    for (std::size_t i = 0; i < parts.size(); ++i) std::memcpy(&out[i], parts[i].data(), sizeof(T));
    return out;
  }
  struct duplicate_tag {};
  explicit MpiContext(duplicate_tag) noexcept {}
  void init(int* argc, char*** argv, MpiStart start);

  bool owns_mpi_ = false;
  bool uses_mpi_ = false;
  int comm_handle_ = -1;  // Fortran handle of a duplicated communicator; -1: MPI_COMM_WORLD
  int uncaught_at_construction_ = 0;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  int node_count_ = 1;
  int node_index_ = 0;
  MpiThreadLevel thread_level_ = MpiThreadLevel::single;
};

}  // namespace strata
