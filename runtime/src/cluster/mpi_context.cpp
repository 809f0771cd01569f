// SPDX-License-Identifier: Apache-2.0
// MpiContext on Open MPI's C API: the launcher check that decides whether MPI starts at all,
// initialisation (or attaching to an MPI someone else started), the node layout derived from
// shared-memory communicators, and the byte-moving collectives the public header builds its typed
// helpers on, each with its one-rank form for a process without MPI. Every MPI error becomes
// Error(distributed).
#include "strata/runtime/cluster/mpi_context.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "strata/runtime/base/error.hpp"

namespace strata {
namespace {

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) {
    return "MPI error code " + std::to_string(code);
  }
  return std::string(text, static_cast<std::size_t>(length));
}

// Checks the return code of an MPI call; MPI_ERRORS_RETURN makes failures arrive here instead
// of killing the job, so the caller gets an exception it can report with context.
void check(int code, const char* call, std::vector<ErrorContext> context = {}) {
  if (code == MPI_SUCCESS) return;
  context.insert(context.begin(), ErrorContext{"call", call});
  throw Error(ErrorCategory::distributed, std::string(call) + " failed: " + mpi_error_text(code),
              std::move(context));
}

MpiThreadLevel to_thread_level(int provided) noexcept {
  if (provided >= MPI_THREAD_MULTIPLE) return MpiThreadLevel::multiple;
  if (provided >= MPI_THREAD_SERIALIZED) return MpiThreadLevel::serialized;
  if (provided >= MPI_THREAD_FUNNELED) return MpiThreadLevel::funneled;
  return MpiThreadLevel::single;
}

void check_root(int root, int size) {
  if (root < 0 || root >= size) {
    throw Error(ErrorCategory::invalid_argument, "root rank out of range",
                {{"root", std::to_string(root)}, {"size", std::to_string(size)}});
  }
}

// MPI counts and displacements are int; larger messages would need derived datatypes.
int to_count(std::uint64_t n, const char* what) {
  if (n > static_cast<std::uint64_t>(INT_MAX)) {
    throw Error(ErrorCategory::unsupported, std::string(what) + " exceeds MPI's int count limit",
                {{"bytes", std::to_string(n)}});
  }
  return static_cast<int>(n);
}

// Where each rank's bytes land in a gathered buffer.
struct message_layout {
  std::vector<int> counts;
  std::vector<int> displacements;
  std::size_t total = 0;

  std::vector<std::vector<std::byte>> split(const std::vector<std::byte>& all) const {
    std::vector<std::vector<std::byte>> parts(counts.size());
    for (std::size_t i = 0; i < counts.size(); ++i) {
      const std::byte* begin = all.data() + displacements[i];
      parts[i].assign(begin, begin + counts[i]);
    }
    return parts;
  }
};

// Every rank learns every rank's message size, so all of them agree on whether the messages fit
// MPI's int counts and throw together; a lone thrower would leave the others in the collective.
message_layout exchange_sizes(std::size_t mine, int size, MPI_Comm comm) {
  const auto my_size = static_cast<std::uint64_t>(mine);
  std::vector<std::uint64_t> sizes(static_cast<std::size_t>(size));
  check(MPI_Allgather(&my_size, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, comm),
        "MPI_Allgather");
  message_layout layout;
  layout.counts.resize(sizes.size());
  layout.displacements.resize(sizes.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    layout.counts[i] = to_count(sizes[i], "gathered message");
    layout.displacements[i] = to_count(total, "gathered messages");
    total += sizes[i];
  }
  to_count(total, "gathered messages");
  layout.total = static_cast<std::size_t>(total);
  return layout;
}

// A context's communicator from its Fortran handle (an int, so the header needs no mpi.h).
MPI_Comm comm_of(int handle) noexcept {
  return handle < 0 ? MPI_COMM_WORLD : MPI_Comm_f2c(handle);
}

// Frees a communicator on every exit path of init().
struct comm_guard {
  MPI_Comm comm = MPI_COMM_NULL;
  ~comm_guard() {
    if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
};

template <class T>
T allreduce_one(MPI_Comm comm, T v, MPI_Datatype type, MPI_Op op, const char* call) {
  T out{};
  check(MPI_Allreduce(&v, &out, 1, type, op, comm), call);
  return out;
}

template <class T>
void allreduce_span_in_place(MPI_Comm comm, std::span<T> values, MPI_Datatype type) {
  // Split so each call's count fits MPI's int.
  constexpr std::size_t max_per_call = static_cast<std::size_t>(INT_MAX);
  for (std::size_t offset = 0; offset < values.size(); offset += max_per_call) {
    const std::size_t n = std::min(max_per_call, values.size() - offset);
    check(MPI_Allreduce(MPI_IN_PLACE, values.data() + offset, static_cast<int>(n), type, MPI_SUM,
                        comm),
          "MPI_Allreduce");
  }
}

// A task count from the environment; anything that is not a plain positive number counts as 1
// (SlurmEnv reports malformed Slurm variables with their name).
long task_count(const std::map<std::string, std::string>& environment, const char* name) {
  const auto it = environment.find(name);
  if (it == environment.end() || it->second.empty()) return 1;
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(it->second.c_str(), &end, 10);
  return errno == 0 && *end == '\0' && n > 0 ? n : 1;
}

// Variables an MPI launcher sets in every process it starts (see mpi_launcher_variable).
constexpr const char* kLauncherVariables[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                              "PMI_SIZE"};
constexpr const char* kSlurmStepVariables[] = {"SLURM_STEP_ID", "SLURM_STEPID",
                                               "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"};

// STRATA_MPI=always starts MPI without a launcher; "auto" (or unset) leaves it to the launcher.
bool always_from_environment() {
  const char* text = std::getenv("STRATA_MPI");
  if (text == nullptr || *text == '\0' || std::strcmp(text, "auto") == 0) return false;
  if (std::strcmp(text, "always") == 0) return true;
  throw Error(ErrorCategory::config, "STRATA_MPI must be \"auto\" or \"always\"",
              {{"variable", "STRATA_MPI"}, {"value", text}});
}

}  // namespace

std::string mpi_launcher_variable(const std::map<std::string, std::string>& environment) {
  for (const char* name : kLauncherVariables) {
    if (environment.contains(name)) return name;
  }
  const bool in_step =
      environment.contains("SLURM_STEP_ID") || environment.contains("SLURM_STEPID");
  if (!in_step) return {};
  const char* tasks =
      environment.contains("SLURM_STEP_NUM_TASKS") ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS";
  return task_count(environment, tasks) > 1 ? tasks : std::string();
}

std::string mpi_launcher_variable_from_environment() {
  std::map<std::string, std::string> environment;
  for (const auto& names : {std::span<const char* const>(kLauncherVariables),
                            std::span<const char* const>(kSlurmStepVariables)}) {
    for (const char* name : names) {
      if (const char* value = std::getenv(name)) environment.emplace(name, value);
    }
  }
  return mpi_launcher_variable(environment);
}

MpiContext::MpiContext(int& argc, char**& argv, MpiStart start) { init(&argc, &argv, start); }

MpiContext::MpiContext(MpiStart start) { init(nullptr, nullptr, start); }

void MpiContext::init(int* argc, char*** argv, MpiStart start) {
  uncaught_at_construction_ = std::uncaught_exceptions();

  int finalized = 0;
  MPI_Finalized(&finalized);
  int initialized = 0;
  MPI_Initialized(&initialized);
  const bool wanted = start == MpiStart::always || always_from_environment() ||
                      !mpi_launcher_variable_from_environment().empty();
  if (!wanted && (!initialized || finalized)) {
    // Started directly: one rank, and no MPI start-up (Open MPI's singleton forks a daemon and
    // probes the network, most of a short command's run time). The collectives are local, so
    // any thread may call them.
    thread_level_ = MpiThreadLevel::multiple;
    return;
  }
  if (finalized) {
    throw Error(ErrorCategory::distributed,
                "MPI was already finalized in this process and cannot be initialised again");
  }
  uses_mpi_ = true;
  int provided = MPI_THREAD_SINGLE;
  if (initialized) {
    check(MPI_Query_thread(&provided), "MPI_Query_thread");
  } else {
    check(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
    owns_mpi_ = true;
  }
  thread_level_ = to_thread_level(provided);

  // From here on, a failing call returns a code we turn into an exception rather than aborting.
  // If one throws, MPI stays initialised and unfinalized: mpiexec then ends the whole job when
  // this rank exits, which is what the ranks waiting for it need.
  check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");

  comm_guard node;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node.comm),
        "MPI_Comm_split_type");
  check(MPI_Comm_rank(node.comm, &local_rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(node.comm, &local_size_), "MPI_Comm_size");

  // Local rank 0 is the node's lowest world rank (key = world rank), so ordering the leaders by
  // world rank numbers the nodes by their lowest rank.
  comm_guard leaders;
  check(MPI_Comm_split(MPI_COMM_WORLD, local_rank_ == 0 ? 0 : MPI_UNDEFINED, rank_, &leaders.comm),
        "MPI_Comm_split");
  int layout[2] = {0, 1};
  if (leaders.comm != MPI_COMM_NULL) {
    check(MPI_Comm_rank(leaders.comm, &layout[0]), "MPI_Comm_rank");
    check(MPI_Comm_size(leaders.comm, &layout[1]), "MPI_Comm_size");
  }
  check(MPI_Bcast(layout, 2, MPI_INT, 0, node.comm), "MPI_Bcast");
  node_index_ = layout[0];
  node_count_ = layout[1];
}

MpiContext::~MpiContext() {
  if (comm_handle_ >= 0) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    MPI_Comm dup = MPI_Comm_f2c(comm_handle_);
    if (!finalized) MPI_Comm_free(&dup);
  }
  if (!owns_mpi_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  // Finalize is collective in practice: a rank unwinding from an error would leave the others
  // blocked in their next collective, so end the whole job instead.
  if (size_ > 1 && std::uncaught_exceptions() > uncaught_at_construction_) {
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
}

std::string MpiContext::library_version() const {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  check(MPI_Get_library_version(text, &length), "MPI_Get_library_version");
  std::string out(text, static_cast<std::size_t>(length));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\0')) out.pop_back();
  return out;
}

std::string MpiContext::processor_name() const {
  if (!uses_mpi_) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) return "localhost";
    return host;
  }
  char text[MPI_MAX_PROCESSOR_NAME];
  int length = 0;
  check(MPI_Get_processor_name(text, &length), "MPI_Get_processor_name");
  return std::string(text, static_cast<std::size_t>(length));
}

void MpiContext::barrier() const {
  if (!uses_mpi_) return;
  check(MPI_Barrier(comm_of(comm_handle_)), "MPI_Barrier");
}

std::unique_ptr<MpiContext> MpiContext::duplicate() const {
  if (!uses_mpi_) {
    std::unique_ptr<MpiContext> copy(new MpiContext(duplicate_tag{}));
    copy->thread_level_ = thread_level_;
    return copy;
  }
  MPI_Comm dup = MPI_COMM_NULL;
  check(MPI_Comm_dup(comm_of(comm_handle_), &dup), "MPI_Comm_dup");
  check(MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  std::unique_ptr<MpiContext> copy(new MpiContext(duplicate_tag{}));
  copy->comm_handle_ = MPI_Comm_c2f(dup);
  copy->uses_mpi_ = true;
  copy->rank_ = rank_;
  copy->size_ = size_;
  copy->local_rank_ = local_rank_;
  copy->local_size_ = local_size_;
  copy->node_count_ = node_count_;
  copy->node_index_ = node_index_;
  copy->thread_level_ = thread_level_;
  return copy;
}

void MpiContext::sendrecv_bytes(std::span<const std::byte> send, int destination,
                                std::span<std::byte> receive, int source, int tag) const {
  const int to = destination < 0 ? MPI_PROC_NULL : destination;
  const int from = source < 0 ? MPI_PROC_NULL : source;
  if (to >= size_ || from >= size_) {
    throw Error(ErrorCategory::invalid_argument, "sendrecv peer out of range",
                {{"destination", std::to_string(destination)}, {"source", std::to_string(source)},
                 {"size", std::to_string(size_)}});
  }
  if (!uses_mpi_) {
    // One rank: a message to itself is a copy; receiving from itself with nothing sent would
    // wait forever under MPI, so it is refused here.
    if (from == MPI_PROC_NULL) return;
    if (to == MPI_PROC_NULL || send.size() != receive.size()) {
      throw Error(ErrorCategory::invalid_argument,
                  "sendrecv from rank 0 to itself needs a send of the receive's size",
                  {{"destination", std::to_string(destination)},
                   {"sent_bytes", std::to_string(send.size())},
                   {"received_bytes", std::to_string(receive.size())}});
    }
    std::copy(send.begin(), send.end(), receive.begin());
    return;
  }
  check(MPI_Sendrecv(send.data(), to_count(send.size(), "sent message"), MPI_BYTE, to, tag,
                     receive.data(), to_count(receive.size(), "received message"), MPI_BYTE, from,
                     tag, comm_of(comm_handle_), MPI_STATUS_IGNORE),
        "MPI_Sendrecv", {{"destination", std::to_string(destination)},
                         {"source", std::to_string(source)}});
}

void MpiContext::abort(int exit_code) const noexcept {
  if (!uses_mpi_) std::_Exit(exit_code);
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  // MPI_Abort is not declared noreturn and may return on some implementations.
  std::_Exit(exit_code);
}

double MpiContext::allreduce_sum(double v) const {
  if (!uses_mpi_) return v;
  return allreduce_one(comm_of(comm_handle_), v, MPI_DOUBLE, MPI_SUM, "MPI_Allreduce");
}
double MpiContext::allreduce_min(double v) const {
  if (!uses_mpi_) return v;
  return allreduce_one(comm_of(comm_handle_), v, MPI_DOUBLE, MPI_MIN, "MPI_Allreduce");
}
double MpiContext::allreduce_max(double v) const {
  if (!uses_mpi_) return v;
  return allreduce_one(comm_of(comm_handle_), v, MPI_DOUBLE, MPI_MAX, "MPI_Allreduce");
}
std::int64_t MpiContext::allreduce_sum(std::int64_t v) const {
  if (!uses_mpi_) return v;
  return allreduce_one(comm_of(comm_handle_), v, MPI_INT64_T, MPI_SUM, "MPI_Allreduce");
}
std::int64_t MpiContext::allreduce_min(std::int64_t v) const {
  if (!uses_mpi_) return v;
  return allreduce_one(comm_of(comm_handle_), v, MPI_INT64_T, MPI_MIN, "MPI_Allreduce");
}
std::int64_t MpiContext::allreduce_max(std::int64_t v) const {
  if (!uses_mpi_) return v;
  return allreduce_one(comm_of(comm_handle_), v, MPI_INT64_T, MPI_MAX, "MPI_Allreduce");
}
std::uint64_t MpiContext::allreduce_sum(std::uint64_t v) const {
  if (!uses_mpi_) return v;
  return allreduce_one(comm_of(comm_handle_), v, MPI_UINT64_T, MPI_SUM, "MPI_Allreduce");
}
// Reduced as int: MPI_C_BOOL is C's _Bool, which C++ does not promise to match bool.
bool MpiContext::allreduce_and(bool v) const {
  if (!uses_mpi_) return v;
  return allreduce_one(comm_of(comm_handle_), v ? 1 : 0, MPI_INT, MPI_LAND, "MPI_Allreduce") != 0;
}
bool MpiContext::allreduce_or(bool v) const {
  if (!uses_mpi_) return v;
  return allreduce_one(comm_of(comm_handle_), v ? 1 : 0, MPI_INT, MPI_LOR, "MPI_Allreduce") != 0;
}
void MpiContext::allreduce_sum(std::span<double> values) const {
  if (!uses_mpi_) return;
  allreduce_span_in_place(comm_of(comm_handle_), values, MPI_DOUBLE);
}
void MpiContext::allreduce_sum(std::span<std::uint64_t> values) const {
  if (!uses_mpi_) return;
  allreduce_span_in_place(comm_of(comm_handle_), values, MPI_UINT64_T);
}

std::vector<std::vector<std::byte>> MpiContext::allgather_bytes(
    std::span<const std::byte> mine) const {
  if (!uses_mpi_) {
    to_count(mine.size(), "gathered message");
    return {std::vector<std::byte>(mine.begin(), mine.end())};
  }
  const message_layout layout = exchange_sizes(mine.size(), size_, comm_of(comm_handle_));
  std::vector<std::byte> all(layout.total);
  check(MPI_Allgatherv(mine.data(), static_cast<int>(mine.size()), MPI_BYTE, all.data(),
                       layout.counts.data(), layout.displacements.data(), MPI_BYTE, comm_of(comm_handle_)),
        "MPI_Allgatherv");
  return layout.split(all);
}

std::vector<std::vector<std::byte>> MpiContext::gather_bytes(std::span<const std::byte> mine,
                                                             int root) const {
  check_root(root, size_);
  if (!uses_mpi_) {
    to_count(mine.size(), "gathered message");
    return {std::vector<std::byte>(mine.begin(), mine.end())};
  }
  const message_layout layout = exchange_sizes(mine.size(), size_, comm_of(comm_handle_));
  const bool at_root = rank_ == root;
  std::vector<std::byte> all(at_root ? layout.total : 0);
  check(MPI_Gatherv(mine.data(), static_cast<int>(mine.size()), MPI_BYTE, all.data(),
                    layout.counts.data(), layout.displacements.data(), MPI_BYTE, root,
                    comm_of(comm_handle_)),
        "MPI_Gatherv", {{"root", std::to_string(root)}});
  if (!at_root) return {};
  return layout.split(all);
}

std::vector<std::byte> MpiContext::broadcast_bytes(std::span<const std::byte> mine,
                                                   int root) const {
  check_root(root, size_);
  if (!uses_mpi_) {
    to_count(mine.size(), "broadcast message");
    return std::vector<std::byte>(mine.begin(), mine.end());
  }
  std::int64_t count = rank_ == root ? static_cast<std::int64_t>(mine.size()) : 0;
  check(MPI_Bcast(&count, 1, MPI_INT64_T, root, comm_of(comm_handle_)), "MPI_Bcast",
        {{"root", std::to_string(root)}});
  // Every rank now knows the size, so every rank refuses an oversized message alike.
  const int n = to_count(static_cast<std::uint64_t>(count), "broadcast message");
  std::vector<std::byte> out(static_cast<std::size_t>(n));
  if (rank_ == root) std::copy(mine.begin(), mine.end(), out.begin());
  check(MPI_Bcast(out.data(), n, MPI_BYTE, root, comm_of(comm_handle_)), "MPI_Bcast",
        {{"root", std::to_string(root)}});
  return out;
}

namespace {

// The tag of merge_tree_bytes's messages: apart from the halo exchanges' (sendrecv_bytes).
constexpr int kMergeTreeTag = 0x5374;

// Receives the next merge_tree message from `source`, whatever its size (MPI_Mprobe: the probed
// message is this call's, even with other threads receiving on the communicator).
std::vector<std::byte> receive_partial(MPI_Comm comm, int source) {
  MPI_Message message = MPI_MESSAGE_NULL;
  MPI_Status status;
  check(MPI_Mprobe(source, kMergeTreeTag, comm, &message, &status), "MPI_Mprobe",
        {{"source", std::to_string(source)}});
  int count = 0;
  check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
  std::vector<std::byte> bytes(static_cast<std::size_t>(count));
  check(MPI_Mrecv(bytes.data(), count, MPI_BYTE, &message, MPI_STATUS_IGNORE), "MPI_Mrecv",
        {{"source", std::to_string(source)}});
  return bytes;
}

}  // namespace

std::vector<std::byte> MpiContext::merge_tree_bytes(std::span<const std::byte> mine,
                                                    const MergeBytes& merge, bool same_size) const {
  std::vector<std::byte> held(mine.begin(), mine.end());
  to_count(held.size(), "merged partial");
  if (!uses_mpi_ || size_ == 1) return held;
  const MPI_Comm comm = comm_of(comm_handle_);
  // Down from the whole job to this rank's own leaf, the subtrees this rank leads ([lo, hi) with
  // lo == rank_) and, if it leads none above its leaf, the one it hands over to its left sibling.
  struct Step {
    int peer;  // the right half's first rank (receive from it), or the left's (send to it)
    bool send;
  };
  std::vector<Step> steps;
  int lo = 0;
  int hi = size_;
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    if (rank_ < mid) {
      if (rank_ == lo) steps.push_back({mid, false});
      hi = mid;
    } else {
      if (rank_ == mid) steps.push_back({lo, true});
      lo = mid;
    }
  }
  // Bottom up: the smallest subtree first. A rank receives from the right halves of the subtrees
  // it leads, innermost first, then sends its result once to the rank leading its parent.
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (it->send) {
      check(MPI_Send(held.data(), static_cast<int>(held.size()), MPI_BYTE, it->peer, kMergeTreeTag,
                     comm),
            "MPI_Send", {{"destination", std::to_string(it->peer)}});
      break;  // a rank sends once, as the first rank of a right half; it leads nothing above
    }
    const std::vector<std::byte> right = receive_partial(comm, it->peer);
    if (same_size && right.size() != held.size()) {
      throw Error(ErrorCategory::distributed, "ranks merged partial results of different sizes",
                  {{"rank", std::to_string(it->peer)},
                   {"bytes", std::to_string(right.size())},
                   {"expected_bytes", std::to_string(held.size())}});
    }
    merge(held, right);
  }
  // Rank 0 leads the whole tree: its bytes are the result.
  if (!same_size) return broadcast_bytes(held, 0);
  check(MPI_Bcast(held.data(), static_cast<int>(held.size()), MPI_BYTE, 0, comm), "MPI_Bcast",
        {{"root", "0"}});
  return held;
}

std::vector<std::string> MpiContext::gather(const std::string& mine, int root) const {
  const auto parts = gather_bytes(std::as_bytes(std::span(mine.data(), mine.size())), root);
  std::vector<std::string> out;
  out.reserve(parts.size());
  for (const auto& p : parts) {
    out.emplace_back(reinterpret_cast<const char*>(p.data()), p.size());
  }
  return out;
}

}  // namespace strata
