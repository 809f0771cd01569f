// SPDX-License-Identifier: Apache-2.0
// Executor: one oneTBB arena per NUMA node with threads, a task_scheduler_observer per arena that
// pins entering threads to the node's allowed CPUs (and restores them on exit) and records which
// arena a thread is in, so chunk statistics say where work really ran.
#include "strata/scheduler/executor.hpp"

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/task_scheduler_observer.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"
#include "thread_budget.hpp"
#include "worker_budget.hpp"

namespace strata {
namespace {

constexpr std::size_t kMinChunkBytes = std::size_t{64} << 10;
constexpr std::size_t kMaxChunkBytes = std::size_t{4} << 20;
// What a hardware thread is assumed to have when the topology reports no L2 (synthetic ones).
constexpr std::size_t kAssumedL2PerThread = std::size_t{1} << 20;
// How long run_on_nodes waits for any worker to begin before the caller runs the work itself.
constexpr std::chrono::milliseconds kWorkerStall{1000};

std::size_t page_bytes() noexcept {
  static const std::size_t bytes = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return bytes;
}

// The arenas a thread is in, innermost last: a worker is in one, an application thread may enter
// several through nested execute(). Keyed by executor id, not address, so a frame left by a
// destroyed executor can never be mistaken for a new one's.
struct ArenaFrame {
  std::uint64_t executor = 0;
  unsigned node = 0;
  bool restore = false;  // the binding below was replaced and must come back on exit
  CpuSet saved;
};
thread_local std::vector<ArenaFrame> arena_frames;

std::atomic<std::uint64_t> next_executor_id{1};

class NodeObserver final : public oneapi::tbb::task_scheduler_observer {
 public:
  NodeObserver(oneapi::tbb::task_arena& arena, const Topology& topology, std::uint64_t executor,
               unsigned node, CpuSet cpus, bool pin)
      : task_scheduler_observer(arena),
        topology_(topology),
        executor_(executor),
        node_(node),
        cpus_(std::move(cpus)),
        pin_(pin) {
    observe(true);
  }
  ~NodeObserver() override { observe(false); }  // before members die: no callback sees them gone
  NodeObserver(const NodeObserver&) = delete;
  NodeObserver& operator=(const NodeObserver&) = delete;

  // Waits (up to `limit`) until no thread is in the arena. oneTBB keeps an observer's proxy alive
  // for each thread inside, and a proxy whose observer detaches before the thread leaves can be
  // lost when the arena goes (LeakSanitizer sees it): workers linger briefly after the last task,
  // so the executor lets them leave before it detaches.
  void wait_until_empty(std::chrono::milliseconds limit) const noexcept {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (inside_.load(std::memory_order_acquire) > 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  // TBB calls these on its own threads and cannot take an exception: failures are logged once and
  // the thread runs unpinned, which costs locality, never correctness.
  void on_scheduler_entry(bool /*is_worker*/) override {
    ArenaFrame frame{executor_, node_, false, {}};
    if (pin_) {
      try {
        frame.saved = topology_.current_thread_binding();
        if (frame.saved != cpus_) frame.restore = topology_.bind_current_thread(cpus_);
      } catch (const std::exception& e) {
        log::warn_once("executor-pin-failed",
                       std::string("cannot pin a thread to its NUMA node's CPUs: ") + e.what());
      }
    }
    arena_frames.push_back(std::move(frame));
    inside_.fetch_add(1, std::memory_order_acq_rel);
  }

  void on_scheduler_exit(bool /*is_worker*/) override {
    inside_.fetch_sub(1, std::memory_order_acq_rel);
    for (auto it = arena_frames.rbegin(); it != arena_frames.rend(); ++it) {
      if (it->executor != executor_ || it->node != node_) continue;
      if (it->restore) {
        try {
          topology_.bind_current_thread(it->saved);
        } catch (const std::exception& e) {
          log::warn_once("executor-unpin-failed",
                         std::string("cannot restore a thread's CPU binding: ") + e.what());
        }
      }
      arena_frames.erase(std::next(it).base());
      return;
    }
  }

 private:
  const Topology& topology_;
  std::uint64_t executor_;
  unsigned node_;
  CpuSet cpus_;
  bool pin_;
  std::atomic<int> inside_{0};
};

struct alignas(64) NodeCounters {  // one cache line per node: counted from every thread
  std::atomic<std::uint64_t> chunks{0};
  std::atomic<std::uint64_t> bytes{0};
};

// oneTBB loads its hwloc glue (tbbbind) with RTLD_DEEPBIND, which AddressSanitizer refuses
// (aborting the process), and 2021.8 has no switch to avoid it: sanitizer builds never ask oneTBB
// about NUMA nodes, so their arenas are unconstrained and pinned by the observer alone.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kOneTbbNumaUsable = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kOneTbbNumaUsable = false;
#else
constexpr bool kOneTbbNumaUsable = true;
#endif
#else
constexpr bool kOneTbbNumaUsable = true;
#endif

// oneTBB's NUMA ids are hwloc logical indexes in its own topology, which holds only the nodes this
// process has CPUs on (tbbbind restricts to the process's binding) — the same nodes, in the same
// order, as ours with allowed CPUs. Matched by position and checked by CPU count; a topology that
// oneTBB does not see (synthetic without HWLOC_SYNTHETIC) gets no constraint.
std::vector<int> match_tbb_numa_ids(const Topology& topology) {
  std::vector<int> ids(topology.numa_nodes().size(), -1);
  if (!kOneTbbNumaUsable) return ids;
  std::vector<int> tbb_ids = oneapi::tbb::info::numa_nodes();
  std::sort(tbb_ids.begin(), tbb_ids.end());
  std::vector<const NumaNode*> ours;
  for (const auto& n : topology.numa_nodes()) {
    if (n.cpus.intersects(topology.allowed_cpus())) ours.push_back(&n);
  }
  if (tbb_ids.size() != ours.size() || tbb_ids.front() < 0) return ids;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const auto cpus = ours[i]->cpus.intersect(topology.allowed_cpus()).size();
    if (oneapi::tbb::info::default_concurrency(tbb_ids[i]) != static_cast<int>(cpus)) {
      log::debug("executor: oneTBB's NUMA nodes differ from the topology's; arenas unconstrained");
      return std::vector<int>(topology.numa_nodes().size(), -1);
    }
  }
  for (std::size_t i = 0; i < ours.size(); ++i) ids[ours[i]->index] = tbb_ids[i];
  return ids;
}

}  // namespace

struct Executor::Impl {
  const Topology& topology;
  std::uint64_t id = next_executor_id.fetch_add(1);
  bool pin = false;
  std::size_t chunk_bytes = 0;
  unsigned total_threads = 0;
  std::vector<unsigned> threads;    // per node
  std::vector<unsigned> execution;  // per node: whose arena runs its work
  std::vector<int> tbb_ids;         // per node
  std::optional<detail::WorkerReservation> workers;
  std::vector<std::unique_ptr<oneapi::tbb::task_arena>> arenas;  // per node; null without threads
  std::vector<std::unique_ptr<NodeObserver>> observers;  // declared after arenas: destroyed first
  std::unique_ptr<NodeCounters[]> counters;
  std::atomic<std::uint64_t> foreign{0};

  explicit Impl(const Topology& t) : topology(t) {}

  // The node of this executor whose arena the calling thread is in, innermost first.
  std::optional<unsigned> current_node() const noexcept {
    for (auto it = arena_frames.rbegin(); it != arena_frames.rend(); ++it) {
      if (it->executor == id) return it->node;
    }
    return std::nullopt;
  }
};

std::size_t Executor::default_chunk_bytes(const Topology& topology) noexcept {
  std::uint64_t l2_total = 0;
  for (const auto& c : topology.caches()) {
    if (c.level == 2 && c.kind != "instruction") {
      l2_total = std::max<std::uint64_t>(l2_total, c.size_bytes * std::max(1u, c.count));
    }
  }
  const std::uint64_t per_thread =
      l2_total == 0 ? kAssumedL2PerThread : l2_total / std::max(1u, topology.pu_count());
  // A quarter: the chunk read plus the chunk a transform writes fill half the L2 share, leaving
  // the rest to the hardware prefetcher's lines ahead and the accumulator's own state.
  std::size_t chunk = static_cast<std::size_t>(per_thread / 4) / page_bytes() * page_bytes();
  return std::clamp(chunk, kMinChunkBytes, kMaxChunkBytes);
}

unsigned Executor::resolve_threads(const Topology& topology, unsigned requested) {
  const CpuSet& allowed = topology.allowed_cpus();
  bool from_environment = false;
  if (requested == 0) {
    requested = detail::threads_from_environment().value_or(0);
    from_environment = requested != 0;
  }
  if (requested == 0) requested = static_cast<unsigned>(allowed.size());
  if (requested > kMaxThreadsPerCpu * allowed.size()) {
    std::vector<ErrorContext> context{{"threads", std::to_string(requested)},
                                      {"allowed_cpus", std::to_string(allowed.size())}};
    if (from_environment) context.push_back({"variable", "STRATA_THREADS"});
    throw Error(from_environment ? ErrorCategory::config : ErrorCategory::invalid_argument,
                "more threads than " + std::to_string(kMaxThreadsPerCpu) + " per allowed CPU",
                std::move(context));
  }
  return requested;
}

Executor::Executor(const Runtime& runtime, ExecutorOptions options)
    : Executor(runtime.topology(), options) {}

Executor::Executor(const Topology& topology, ExecutorOptions options)
    : impl_(std::make_unique<Impl>(topology)) {
  Impl& im = *impl_;
  const CpuSet& allowed = topology.allowed_cpus();
  if (allowed.empty() || topology.numa_nodes().empty()) {
    throw Error(ErrorCategory::unsupported, "the topology has no CPU this process may use",
                {{"topology", std::string(to_string(topology.source()))}});
  }
  const unsigned requested = resolve_threads(topology, options.threads);
  if (options.chunk_bytes != 0 && options.chunk_bytes % page_bytes() != 0) {
    throw Error(ErrorCategory::invalid_argument, "chunk_bytes must be a multiple of the page size",
                {{"chunk_bytes", std::to_string(options.chunk_bytes)},
                 {"page_bytes", std::to_string(page_bytes())}});
  }
  im.chunk_bytes = options.chunk_bytes != 0 ? options.chunk_bytes : default_chunk_bytes(topology);
  im.threads = detail::split_threads(topology, requested);
  for (unsigned t : im.threads) im.total_threads += t;

  im.pin = options.pin && topology.is_this_system();
  if (options.pin && !im.pin) {
    log::warn_once("executor-pinning-skipped", "executor: threads not pinned: the topology is " +
                                                   std::string(to_string(topology.source())) +
                                                   " (" + topology.origin() +
                                                   "), not this machine");
  }

  const std::size_t nodes = topology.numa_nodes().size();
  const auto first_with_threads = static_cast<unsigned>(
      std::find_if(im.threads.begin(), im.threads.end(), [](unsigned t) { return t > 0; }) -
      im.threads.begin());
  im.execution.resize(nodes);
  for (unsigned n = 0; n < nodes; ++n) im.execution[n] = im.threads[n] > 0 ? n : first_with_threads;
  im.tbb_ids = match_tbb_numa_ids(topology);

  // oneTBB caps its workers process-wide at the machine's concurrency minus one; every thread of
  // the split is a worker (the caller only has its reserved slots), so the cap must cover them.
  im.workers.emplace(im.total_threads);

  im.counters = std::make_unique<NodeCounters[]>(nodes);
  im.arenas.resize(nodes);
  im.observers.resize(nodes);
  for (unsigned n = 0; n < nodes; ++n) {
    if (im.threads[n] == 0) continue;
    oneapi::tbb::task_arena::constraints c;
    c.set_numa_id(im.tbb_ids[n]).set_max_concurrency(static_cast<int>(im.threads[n]) + 1);
    // The node's share of threads as workers, plus one slot reserved for the caller, which joins
    // to wait (run_on_nodes) and helps while it does. Without that slot a full arena makes the
    // caller delegate its wait, and oneTBB 2021.8 was seen to leave an enqueued task of another
    // arena unclaimed meanwhile (Executor.RunOnNodesRethrowsAfterOthersFinish hung under load).
    im.arenas[n] = std::make_unique<oneapi::tbb::task_arena>(c, 1);
    im.arenas[n]->initialize();
    im.observers[n] =
        std::make_unique<NodeObserver>(*im.arenas[n], topology, im.id, n,
                                       topology.numa_nodes()[n].cpus.intersect(allowed), im.pin);
  }
}

Executor::~Executor() {
  // An executor destroyed from inside one of its own tasks would wait for itself: bounded.
  for (const auto& o : impl_->observers) {
    if (o) o->wait_until_empty(std::chrono::seconds(1));
  }
}

const Topology& Executor::topology() const noexcept { return impl_->topology; }
std::size_t Executor::node_count() const noexcept { return impl_->threads.size(); }
unsigned Executor::threads() const noexcept { return impl_->total_threads; }
unsigned Executor::threads_on(std::size_t node) const noexcept {
  return node < impl_->threads.size() ? impl_->threads[node] : 0;
}
unsigned Executor::execution_node(std::size_t node) const noexcept {
  return node < impl_->execution.size() ? impl_->execution[node] : impl_->execution.front();
}
int Executor::tbb_numa_id(std::size_t node) const noexcept {
  return node < impl_->tbb_ids.size() ? impl_->tbb_ids[node] : -1;
}
bool Executor::pinning() const noexcept { return impl_->pin; }
std::size_t Executor::chunk_bytes() const noexcept { return impl_->chunk_bytes; }
std::size_t Executor::chunk_elements(std::size_t element_bytes) const noexcept {
  return std::max<std::size_t>(1, impl_->chunk_bytes / std::max<std::size_t>(1, element_bytes));
}

oneapi::tbb::task_arena& Executor::arena(std::size_t node) {
  return *impl_->arenas[execution_node(node)];
}

void Executor::run_on_nodes(std::span<const unsigned> nodes,
                            const std::function<void(std::size_t)>& work) {
  const std::size_t n = nodes.size();
  auto groups = std::make_unique<oneapi::tbb::task_group[]>(n);
  // The caller waits here, outside every arena, until each node's work has returned: it must not
  // execute chunks itself. Joining an arena to wait made it one more thread on the node's chunks,
  // so an executor of T threads ran T + 1 (1 worker gained nothing over 2, and 2 oversubscribed a
  // 2-core machine); workers are what threads_on() counts.
  std::mutex mutex;
  std::condition_variable finished_cv;
  std::size_t finished = 0;
  std::size_t started = 0;
  std::size_t running = 0;  // tasks a thread has begun
  std::exception_ptr first_error;
  try {
    for (; started < n; ++started) {
      const std::size_t k = started;
      // Enqueued, not spawned from execute(): only enqueue guarantees the arena a thread (oneTBB
      // says a spawn into a slot the caller then leaves may miss every worker's wake-up).
      arena(nodes[k]).enqueue(groups[k].defer([&, k] {
        struct Done {  // counted however work(k) ends, so the caller's wait always returns
          std::mutex& mutex;
          std::condition_variable& cv;
          std::size_t& finished;
          ~Done() {
            std::lock_guard lock(mutex);
            ++finished;
            cv.notify_one();
          }
        } done{mutex, finished_cv, finished};
        {
          std::lock_guard lock(mutex);
          ++running;
        }
        work(k);
      }));
    }
  } catch (...) {
    // The enqueue that threw (oneTBB failing to start a worker) may have queued its task: it is
    // joined below like the others, or its group would wait for it forever when destroyed.
    first_error = std::current_exception();
    if (started < n) ++started;
  }
  // No group is cancelled before its task has run: a cancelled group may skip the task, and
  // then nothing would count it. A failing node's own chunks stop at its exception (oneTBB
  // cancels the rest of its parallel loop); the other nodes finish theirs.
  // If no worker has begun any node's task after kWorkerStall, the workers are not coming (oneTBB
  // could not create its threads: an address-space or process limit, or a max_allowed_parallelism
  // of 1 set by the program): the caller stops waiting outside and joins the arenas below, where
  // waiting on a group runs its task. The result is the same, on fewer threads, instead of a hang.
  {
    std::unique_lock lock(mutex);
    while (!finished_cv.wait_for(lock, kWorkerStall, [&] { return finished == started; })) {
      if (running == 0) break;
    }
  }
  // Every started group is waited for in its arena (normally without work left to help with): a
  // task_group must not die with tasks in flight, and wait() is where a task's exception comes
  // back; the first is rethrown.
  for (std::size_t k = 0; k < started; ++k) {
    try {
      arena(nodes[k]).execute([&] { groups[k].wait(); });
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

void Executor::count_chunk(unsigned node, std::size_t bytes) noexcept {
  Impl& im = *impl_;
  const std::optional<unsigned> running = im.current_node();
  if (!running || *running != execution_node(node))
    im.foreign.fetch_add(1, std::memory_order_relaxed);
  if (!running) return;
  im.counters[*running].chunks.fetch_add(1, std::memory_order_relaxed);
  im.counters[*running].bytes.fetch_add(bytes, std::memory_order_relaxed);
}

ExecutorStats Executor::stats() const {
  ExecutorStats s;
  for (std::size_t n = 0; n < node_count(); ++n) {
    s.chunks_per_node.push_back(impl_->counters[n].chunks.load(std::memory_order_relaxed));
    s.bytes_per_node.push_back(impl_->counters[n].bytes.load(std::memory_order_relaxed));
  }
  s.foreign_chunks = impl_->foreign.load(std::memory_order_relaxed);
  return s;
}

void Executor::reset_stats() noexcept {
  for (std::size_t n = 0; n < node_count(); ++n) {
    impl_->counters[n].chunks.store(0, std::memory_order_relaxed);
    impl_->counters[n].bytes.store(0, std::memory_order_relaxed);
  }
  impl_->foreign.store(0, std::memory_order_relaxed);
}

}  // namespace strata
