// SPDX-License-Identifier: Apache-2.0
// The Checkpointer's public calls: options checked, regions protected, save() staging the state
// and handing the rest to a background thread (save_pipeline.cpp, then commit.cpp), wait() and
// status() reporting it; restore_latest() is in restore.cpp. The phases share Checkpointer::Impl
// (checkpointer_impl.hpp).
#include <filesystem>

#include "checkpoint/checkpointer_impl.hpp"
#include "files/publish_file.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"

namespace strata::io {

std::string step_text(long step) {
  std::string text = "step ";
  text += std::to_string(step);
  return text;
}

Checkpointer::Checkpointer(Runtime& runtime, Executor& executor, CheckpointOptions options) {
  if (options.keep < 1) {
    throw Error(ErrorCategory::invalid_argument, "checkpoint keep must be at least 1",
                {{"keep", std::to_string(options.keep)}});
  }
  if (options.chunk_bytes == 0 || options.chunk_bytes > detail::kMaxCheckpointChunkBytes) {
    throw Error(ErrorCategory::invalid_argument, "checkpoint chunk_bytes must be in (0, 1 GiB]",
                {{"chunk_bytes", std::to_string(options.chunk_bytes)}});
  }
  if (options.codec.kind == Codec::Kind::zstd && (options.codec.level < 1 || options.codec.level > 22)) {
    throw Error(ErrorCategory::invalid_argument, "zstd level must be in [1, 22]",
                {{"level", std::to_string(options.codec.level)}});
  }
  if (options.run_id.size() > 255) {
    throw Error(ErrorCategory::invalid_argument, "checkpoint run_id is longer than 255 bytes");
  }
  if (options.dir.empty()) {
    throw Error(ErrorCategory::invalid_argument, "checkpoint folder is empty");
  }
  if (options.partner && options.local_dir.empty()) {
    throw Error(ErrorCategory::invalid_argument,
                "partner copies live in the node-local folders: set local_dir too");
  }
  if (options.xor_group < 0 || options.xor_group == 1) {
    throw Error(ErrorCategory::invalid_argument,
                "checkpoint xor_group must be 0 (off) or a group of at least 2 nodes",
                {{"xor_group", std::to_string(options.xor_group)}});
  }
  if (options.xor_group > 0 && options.local_dir.empty()) {
    throw Error(ErrorCategory::invalid_argument,
                "XOR parity lives in the node-local folders: set local_dir too");
  }
  if (options.xor_group > 0 && options.partner) {
    throw Error(ErrorCategory::invalid_argument,
                "choose partner copies or XOR parity, not both (each protects against losing a "
                "node; XOR stores less)",
                {{"xor_group", std::to_string(options.xor_group)}});
  }
  if (options.drain_every < 0) {
    throw Error(ErrorCategory::invalid_argument, "checkpoint drain_every must not be negative",
                {{"drain_every", std::to_string(options.drain_every)}});
  }
  if (!(options.drain_bytes_per_second >= 0)) {  // NaN too
    throw Error(ErrorCategory::invalid_argument,
                "checkpoint drain_bytes_per_second must not be negative",
                {{"drain_bytes_per_second", std::to_string(options.drain_bytes_per_second)}});
  }
  if (options.full_every < 1) options.full_every = 1;
  impl_ = std::make_unique<Impl>(runtime, executor, std::move(options));
  Impl& d = *impl_;
  // A failure to create the folder on rank 0 must reach every rank, or they would hang later.
  std::string problem;
  if (runtime.rank() == 0) {
    try {
      detail::make_folder(d.options.dir);
      d.folder_lock = detail::FolderLock(d.options.dir);  // before touching another job's steps
      recover_step_folders(d.options.dir);
    } catch (const Error& e) {
      problem = e.message();  // the folder is named once, in the context below
    }
  }
  if (runtime.size() > 1) {
    auto shared = runtime.mpi().broadcast_bytes(std::as_bytes(std::span(problem.data(), problem.size())), 0);
    problem.assign(reinterpret_cast<const char*>(shared.data()), shared.size());
  }
  if (!problem.empty()) {
    throw Error(ErrorCategory::io, "cannot use the checkpoint folder: " + problem,
                {{"folder", d.options.dir}});
  }
  if (d.levels()) {
    // Throws on every rank alike (one node with partner copies) before a local folder is touched.
    d.layout =
        detail::node_layout(runtime.mpi(), detail::node_name(runtime.mpi()), d.options.partner);
    if (d.options.xor_group > 0) d.plan_xor_groups();  // throws alike on one node
    d.my_node_folder = detail::node_folder(
        d.options.local_dir, d.layout.node_of_rank[static_cast<std::size_t>(runtime.rank())]);
    std::string mine;
    if (d.layout.leader_of(runtime.rank()) == runtime.rank()) {
      try {
        detail::make_folder(d.my_node_folder);
        recover_step_folders(d.my_node_folder);
      } catch (const Error& e) {
        mine = e.message() + " (" + d.my_node_folder + ")";
      }
    }
    for (const auto& bytes :
         runtime.mpi().allgather_bytes(std::as_bytes(std::span(mine.data(), mine.size())))) {
      if (!bytes.empty()) {
        throw Error(ErrorCategory::io,
                    "cannot use the node-local checkpoint folder: " +
                        std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                    {{"folder", d.options.local_dir}});
      }
    }
    d.drain_mpi = runtime.mpi().duplicate();
  }
  d.commit_mpi = runtime.mpi().duplicate();
  d.async = runtime.size() == 1 || runtime.mpi().thread_level() == MpiThreadLevel::multiple;
  if (!d.async) {
    log::warn_once("checkpoint-sync",
                   "MPI lacks MPI_THREAD_MULTIPLE: checkpoints are written synchronously");
  }
}

Checkpointer::~Checkpointer() {
  if (!impl_) return;
  try {
    impl_->harvest();
    impl_->join_drain();
  } catch (...) {
    log::error("checkpoint: error while finishing the last save");
  }
}

void Checkpointer::protect_bytes(std::string name, DType dtype, std::span<std::byte> rows,
                                 GlobalBlock block) {
  Impl& d = *impl_;
  d.harvest();  // the background save reads the region list: change it only when none runs
  for (const ProtectedRegion& p : d.regions) {
    if (p.name == name) {
      throw Error(ErrorCategory::invalid_argument, "region already protected", {{"region", name}});
    }
  }
  if (name.empty() || name.size() > 255) {
    throw Error(ErrorCategory::invalid_argument, "region names are 1 to 255 bytes", {{"region", name}});
  }
  if (block.global_shape.rank() == 0) {
    throw Error(ErrorCategory::invalid_argument, "global shape has no dimensions", {{"region", name}});
  }
  (void)block.global_shape.byte_count(dtype);  // overflow check
  ProtectedRegion p;
  p.name = std::move(name);
  p.dtype = dtype;
  p.data = rows;
  p.global_shape = block.global_shape;
  p.first_row = block.first_row;
  p.resolved = true;
  const std::size_t row_bytes = p.row_bytes();
  if (row_bytes == 0 || rows.size() % row_bytes != 0) {
    throw Error(ErrorCategory::invalid_argument, "protected span is not whole rows of the global shape",
                {{"region", p.name}, {"bytes", std::to_string(rows.size())},
                 {"row_bytes", std::to_string(row_bytes)}});
  }
  if (block.first_row > block.global_shape[0] || p.rows() > block.global_shape[0] - block.first_row) {
    throw Error(ErrorCategory::invalid_argument, "protected rows lie outside the global shape",
                {{"region", p.name}, {"first_row", std::to_string(block.first_row)},
                 {"rows", std::to_string(p.rows())}, {"global_shape", block.global_shape.to_string()}});
  }
  d.regions.push_back(std::move(p));
}

void Checkpointer::protect_stacked(std::string name, DType dtype, std::span<std::byte> data,
                                   Shape local_shape) {
  if (local_shape.rank() == 0) local_shape.push_back(1);
  Shape provisional = local_shape;
  protect_bytes(std::move(name), dtype, data, {provisional, 0});
  ProtectedRegion& p = impl_->regions.back();
  p.kind = RegionKind::stacked;
  p.local_shape = local_shape;
  p.resolved = false;
}

void Checkpointer::protect(std::string name, MappedFile& file) {
  if (file.mode() == MapMode::read_only) {
    throw Error(ErrorCategory::invalid_argument, "a protected mapped file must be writable",
                {{"region", name}, {"file", file.path()}});
  }
  std::span<std::byte> bytes = file.size() == 0 ? std::span<std::byte>() : file.writable_bytes(0, file.size());
  Shape shape{static_cast<std::size_t>(file.size())};
  protect_bytes(std::move(name), DType::u8, bytes, {shape, 0});
  ProtectedRegion& p = impl_->regions.back();
  p.kind = RegionKind::rank_local;
  p.local_shape = shape;
  p.mapped = &file;
}

void Checkpointer::protect(std::string name, MappedFile& file, MappedRows layout) {
  if (file.mode() == MapMode::read_only) {
    throw Error(ErrorCategory::invalid_argument, "a protected mapped file must be writable",
                {{"region", name}, {"file", file.path()}});
  }
  Shape shape{0};
  for (std::size_t extent : layout.row_shape) shape.push_back(extent);
  const std::size_t row_bytes = shape.row_elements() * dtype_bytes(layout.dtype);
  if (row_bytes == 0 || file.size() % row_bytes != 0) {
    throw Error(ErrorCategory::invalid_argument,
                "a mapped file protected as rows is not whole rows",
                {{"region", name},
                 {"file", file.path()},
                 {"bytes", std::to_string(file.size())},
                 {"row_bytes", std::to_string(row_bytes)}});
  }
  Shape local{file.size() / row_bytes};
  for (std::size_t extent : layout.row_shape) local.push_back(extent);
  std::span<std::byte> bytes =
      file.size() == 0 ? std::span<std::byte>() : file.writable_bytes(0, file.size());
  protect_stacked(std::move(name), layout.dtype, bytes, local);
  impl_->regions.back().mapped = &file;
}

bool Checkpointer::due(long step) {
  Impl& d = *impl_;
  if (d.options.every_steps > 0 && step % d.options.every_steps == 0) return true;
  if (d.options.every_seconds <= 0) return false;
  char yes = std::chrono::duration<double>(CheckpointClock::now() - d.last_save_start).count() >=
                     d.options.every_seconds
                 ? 1
                 : 0;
  if (d.rt.size() > 1) {
    auto shared = d.rt.mpi().broadcast_bytes(std::as_bytes(std::span(&yes, 1)), 0);
    yes = static_cast<char>(shared.at(0));
  }
  return yes != 0;
}

void Checkpointer::save(long step) {
  Impl& d = *impl_;
  if (step < 0) {
    throw Error(ErrorCategory::invalid_argument, "checkpoint step must not be negative",
                {{"step", std::to_string(step)}});
  }
  d.harvest();
  // The drain of the previous step reads its local folder, which this save's commit may prune.
  d.join_drain();
  if (d.status.state == SaveState::committed && d.status.step >= 0 &&
      (!d.newest_step || d.status.step > *d.newest_step)) {
    d.newest_step = d.status.step;
  }
  // Checked here, where every rank has the same regions, steps and history, so all throw alike.
  if (d.regions.empty()) {
    throw Error(ErrorCategory::invalid_argument,
                "nothing to checkpoint: protect() at least one region before save()",
                {{"folder", d.options.dir}, {"step", std::to_string(step)}});
  }
  if (d.newest_step && step == *d.newest_step) {
    throw Error(ErrorCategory::invalid_argument,
                step_text(step) +
                    " exists: this Checkpointer already saved or restored it; "
                    "checkpoint steps must increase",
                {{"folder", d.options.dir}, {"step", std::to_string(step)}});
  }
  if (d.newest_step && step < *d.newest_step) {
    throw Error(ErrorCategory::invalid_argument,
                "checkpoint steps must increase: " + step_text(step) + " is older than " +
                    step_text(*d.newest_step) + ", the newest this Checkpointer saved or restored",
                {{"folder", d.options.dir},
                 {"step", std::to_string(step)},
                 {"newest_step", std::to_string(*d.newest_step)}});
  }
  // Mapped files are copied as they are now, and cannot be remapped under the copy.
  auto held = d.follow_mappings();
  d.resolve_stacked();
  const auto started = CheckpointClock::now();
  d.last_save_start = started;
  d.layout_staging();
  const std::uint64_t raw = d.stage();
  held.clear();
  {
    std::lock_guard lock(d.status_mutex);
    d.status = SaveStatus{};
    d.status.step = step;
    d.status.state = SaveState::in_flight;
    d.status.raw_bytes = raw;
    d.status.copy_seconds = std::chrono::duration<double>(CheckpointClock::now() - started).count();
    d.failure = nullptr;
    d.reported = false;
  }
  d.harvested = false;
  if (d.async) {
    d.worker = std::thread([&d, step, started] { d.run_save(step, started); });
  } else {
    d.run_save(step, started);
  }
}

SaveStatus Checkpointer::wait() {
  Impl& d = *impl_;
  // The worker may still prune older steps after reporting: the next save() waits for that.
  std::exception_ptr failure;
  SaveStatus st;
  {
    std::unique_lock lock(d.status_mutex);
    d.settled.wait(lock, [&d] { return d.reported; });
    st = d.status;
    failure = d.failure;
  }
  d.harvested = true;
  if (st.state == SaveState::committed) d.rt.note_checkpoint_seconds(st.total_seconds);
  if (failure) std::rethrow_exception(failure);
  return st;
}

SaveStatus Checkpointer::status() const {
  std::lock_guard lock(impl_->status_mutex);
  return impl_->status;
}
const RestoreReport& Checkpointer::last_restore() const noexcept { return impl_->last_restore; }

const CheckpointOptions& Checkpointer::options() const noexcept { return impl_->options; }

}  // namespace strata::io
