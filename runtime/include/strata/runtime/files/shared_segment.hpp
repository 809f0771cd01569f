// SPDX-License-Identifier: Apache-2.0
// SharedSegment: one block of memory shared by the ranks of one node, so a read-only dataset or a
// large table is held once per node instead of once per rank. The first rank to ask creates and
// fills it, then marks it ready; the others attach to the same physical pages and wait for ready.
//
//   auto seg = strata::SharedSegment::share_file("/data/lookup.bin", "lookup");   // every rank
//   std::span<const std::byte> table = seg.bytes();                               // one copy/node
//
// Backing: POSIX shared memory (shm_open, a file under /dev/shm), not memfd. Ranks started by srun
// or mpirun are independent processes, not a fork tree, and need a name to meet at; a memfd has no
// name another process can open (only /proc/<pid>/fd of its creator, or descriptor passing over a
// socket that would need a rendezvous of its own). The object is created O_EXCL with mode 0600, so
// exactly one rank creates it and only this user can open it, and it is named per job:
// "/strata-<job>-<name>", where <job> is SLURM_JOB_ID or, outside Slurm, "u<uid>"; either followed
// by "-<job_key>" when the caller gives a key. A hugetlbfs folder can back it with hugetlb pages.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "strata/runtime/machine/topology.hpp"
#include "strata/runtime/memory/placement.hpp"

namespace strata {

namespace detail {
struct SegmentHeader;
}  // namespace detail

struct SharedSegmentOptions {
  // Part of the name after the job ([A-Za-z0-9_.-], may be empty): outside Slurm it separates
  // concurrent jobs of one user on one node.
  std::string job_key;
  // Whether attaching ranks may write (the creator always can, to fill it).
  bool attach_writable = false;
  // How long an attaching rank waits for the creator to mark the segment ready.
  std::chrono::milliseconds attach_timeout{60'000};
  // /dev/shm backing: advise transparent huge pages for the data (takes effect when the admin
  // enables them for shared memory, /sys/kernel/mm/transparent_hugepage/shmem_enabled).
  bool transparent_huge_pages = true;
  // When set, a hugetlbfs mount to create the segment in instead of /dev/shm: hugetlb pages,
  // reserved when it is created (a short pool is Error(resource) then, not a SIGBUS later). Every
  // rank must pass the same folder.
  std::string hugetlbfs_dir;
  // Where the creator places the data's pages (the topology must outlive the call).
  std::optional<Placement> placement;
  const Topology* topology = nullptr;
  // When false, the creator allocates only the segment's header: each process then allocates the
  // part of the data it fills with allocate(), placed on the NUMA node that will use it. Default:
  // the creator allocates all of it (where `placement` says).
  bool allocate_on_create = true;
};

class SharedSegment {
 public:
  // Creates the segment `name` ([A-Za-z0-9_.-], 1-128 characters) of `bytes` bytes for this job, or
  // attaches to it when another process created it first. The creator gets is_owner() true and
  // must fill data() then call mark_ready(); attachers return once it is ready, with the creator's
  // size. Its memory is allocated in full on creation (unless allocate_on_create is false), so a
  // full /dev/shm (or hugetlb pool) is Error(resource) here. Errors: invalid_argument for a bad name or key, or when an existing
  // segment has another size; io when the object cannot be created or opened or belongs to another
  // user or is open to others; distributed when the creator does not mark it ready within the
  // timeout, died first, or gave up; corrupt_data when it is not a strata segment.
  static SharedSegment create_or_attach(const std::string& name, std::uint64_t bytes,
                                        const SharedSegmentOptions& options = {});

  // Shares a read-only file node-wide: the creator copies the file in (pread) and marks it ready,
  // the others map that one copy. An attacher checks the segment holds the file as it is now
  // (device, inode, size, modification time) and throws Error(corrupt_data) when it holds an older
  // version. Error(io) naming the file when it cannot be read.
  static SharedSegment share_file(const std::string& path, const std::string& name,
                                  const SharedSegmentOptions& options = {});

  // Removes the segment's name, as unlink() does, without attaching (for stale segments left by a
  // crashed job). Returns whether a segment was there.
  static bool remove(const std::string& name, const SharedSegmentOptions& options = {});

  // The shared-memory name for `name` in this job: "/strata-<job>-<name>".
  static std::string object_name(const std::string& name, const SharedSegmentOptions& options = {});

  SharedSegment() = default;
  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&& other) noexcept;
  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;
  // Unmaps. The name stays (other ranks may still attach) unless the owner never marked it ready:
  // then the segment is marked failed, so waiting ranks stop with an error, and its name removed.
  ~SharedSegment();

  bool is_owner() const noexcept { return owner_; }
  bool ready() const noexcept;
  // Creator only: publishes the contents; attachers waiting return. Error(invalid_argument) for
  // attachers.
  void mark_ready();
  // Creator only: removes the name so no further rank can attach; mappings stay valid and the
  // memory is freed when the last one goes. Call once every rank has attached (after a barrier).
  void unlink();

  // Allocates the data's pages in [offset, offset + length) (widened to whole pages), after
  // setting their placement when one is given and `topology` is this machine (not a synthetic
  // one). For a segment created with allocate_on_create false, each process allocates the part it
  // fills, so its pages sit on its own NUMA node. A full /dev/shm is Error(resource) here rather
  // than a SIGBUS at the first write. Returns whether the placement was applied. Error
  // (invalid_argument) for a range outside the data or a read-only attachment.
  bool allocate(std::uint64_t offset, std::uint64_t length, const Topology* topology = nullptr,
                const std::optional<Placement>& placement = std::nullopt);

  // Views into the mapping: not on a temporary segment, which unmaps it.
  std::span<std::byte> data() const& noexcept { return {data_, bytes_}; }
  std::span<std::byte> data() const&& = delete;
  std::span<const std::byte> bytes() const& noexcept { return {data_, bytes_}; }
  std::span<const std::byte> bytes() const&& = delete;
  std::uint64_t size() const noexcept { return bytes_; }
  // Set by the creator from the clock and its pid: ranks can compare it to check they all attached
  // to the same incarnation of a name.
  std::uint64_t generation() const noexcept;
  const std::string& name() const noexcept { return name_; }
  // The segment's file: /dev/shm/strata-... or <hugetlbfs_dir>/strata-...
  const std::string& path() const noexcept { return path_; }
  int native_handle() const noexcept { return fd_; }

 private:
  static SharedSegment open_segment(const std::string& name, std::uint64_t bytes,
                                    const SharedSegmentOptions& options, bool check_size);
  void release() noexcept;
  detail::SegmentHeader* header() const noexcept;

  std::string name_;
  std::string path_;
  bool hugetlbfs_ = false;
  bool owner_ = false;
  bool unlinked_ = false;
  bool writable_ = false;
  std::uint64_t page_ = 0;  // the backing's page size
  int fd_ = -1;
  std::byte* base_ = nullptr;
  std::uint64_t mapped_ = 0;
  std::byte* data_ = nullptr;
  std::uint64_t bytes_ = 0;
};

}  // namespace strata
