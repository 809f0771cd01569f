// SPDX-License-Identifier: Apache-2.0
// MpiContext: the process's place among the job's ranks. It initialises MPI (under mpirun/srun,
// or as a singleton when started directly), knows rank, size, node-local rank and node count,
// and offers collective helpers for plain values and for mergeable result types.
//
//   strata::MpiContext mpi(argc, argv);
//   double total = mpi.allreduce_sum(local_total);
//   Stats s = mpi.allreduce(local_stats);   // Stats has `void merge(const Stats&)`
//
// mpi.h is not needed by users: the collectives move bytes, and mergeable types are folded in
// rank order on every rank, so every rank gets bit-identical results whatever the MPI reduction
// tree would have been.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

class MpiContext {
 public:
  // Initialises MPI unless the program already did (then it only attaches and will not finalize).
  // Requests MPI_THREAD_MULTIPLE; thread_level() says what the library provided.
  // Throws Error(distributed) if initialisation fails.
  MpiContext(int& argc, char**& argv);
  // Same, for programs that have no argc/argv at hand (tests, libraries).
  MpiContext();
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
  // The MPI library's own version string ("Open MPI v4.1.4, ...").
  std::string library_version() const;
  // Name of this host as MPI sees it.
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

  // Merges every rank's partial result in rank order (rank 0 first); all ranks get the same value.
  template <Mergeable T>
  T allreduce(const T& mine) const {
    std::vector<T> all = allgather(mine);
    T result = all.front();
    for (std::size_t i = 1; i < all.size(); ++i) result.merge(all[i]);
    return result;
  }
  // The same for variable-size results, in rank order.
  template <SerializableMergeable T>
  T allreduce(const T& mine) const {
    std::vector<std::byte> bytes = mine.serialize();
    std::vector<std::vector<std::byte>> all = allgather_bytes(bytes);
    T result = T::deserialize(all.front());
    for (std::size_t i = 1; i < all.size(); ++i) result.merge(T::deserialize(all[i]));
    return result;
  }

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
  void init(int* argc, char*** argv);

  bool owns_mpi_ = false;
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
