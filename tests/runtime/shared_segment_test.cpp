// SPDX-License-Identifier: Apache-2.0
// Tests of SharedSegment: two processes (fork) meeting at one name share one copy of the bytes
// (checked by the object's allocated blocks and, as root, by physical frame numbers), permissions,
// the ready protocol with its timeout and creator-death errors, share_file and its staleness
// check, a full /dev/shm, hugetlbfs backing, and allocation by parts placed per NUMA node.
#include "strata/runtime/files/shared_segment.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/hugepage_reservation.hpp"
#include "common/pagemap.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/machine/topology.hpp"

namespace {

using strata::SharedSegment;
using strata::SharedSegmentOptions;

constexpr std::uint64_t kMiB = 1 << 20;

// Options that keep test segments apart from other test runs and real jobs of this user. The key
// is fixed by the first call, so forked children (which first call it before forking) share it.
SharedSegmentOptions test_options() {
  static const std::string key = "test" + std::to_string(::getpid());
  SharedSegmentOptions o;
  o.job_key = key;
  return o;
}

// Removes the segment when the test ends, whoever created it.
struct SegmentCleanup {
  std::string name;
  SharedSegmentOptions options;
  ~SegmentCleanup() { SharedSegment::remove(name, options); }
};

unsigned char pattern(std::uint64_t i, unsigned char salt) {
  return static_cast<unsigned char>(i * 13 + (i >> 9) + salt);
}

bool write_all(int fd, const void* data, std::size_t bytes) {
  return ::write(fd, data, bytes) == static_cast<ssize_t>(bytes);
}
bool read_all(int fd, void* data, std::size_t bytes) {
  std::size_t done = 0;
  while (done < bytes) {
    ssize_t n = ::read(fd, static_cast<char*>(data) + done, bytes - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// What one side of the two-process test saw.
struct Side {
  bool owner = false;
  bool other_half_ok = false;
  std::uint64_t frames[2] = {0, 0};  // physical frames of the first page of each half
};

// Creates or attaches, writes its half (the creator the first, before ready; the attacher the
// second), tells the other side, waits for it, then checks the other side's half.
Side run_side(const std::string& name, std::uint64_t bytes, int tell_fd, int hear_fd) {
  SharedSegmentOptions o = test_options();
  o.attach_writable = true;
  auto seg = SharedSegment::create_or_attach(name, bytes, o);
  Side side;
  side.owner = seg.is_owner();
  const std::uint64_t half = bytes / 2;
  const std::uint64_t mine = side.owner ? 0 : half;
  const unsigned char salt = side.owner ? 1 : 2;
  for (std::uint64_t i = 0; i < half; ++i) {
    seg.data()[mine + i] = std::byte{pattern(i, salt)};
  }
  if (side.owner) seg.mark_ready();
  char token = 'x';
  if (!write_all(tell_fd, &token, 1) || !read_all(hear_fd, &token, 1)) return side;
  const std::uint64_t theirs = side.owner ? half : 0;
  const unsigned char their_salt = side.owner ? 2 : 1;
  side.other_half_ok = true;
  for (std::uint64_t i = 0; i < half; ++i) {
    if (static_cast<unsigned char>(seg.bytes()[theirs + i]) != pattern(i, their_salt)) {
      side.other_half_ok = false;
      break;
    }
  }
  side.frames[0] = strata::test::page_entries(seg.bytes().data(), 1).at(0).frame;
  side.frames[1] = strata::test::page_entries(seg.bytes().data() + half, 1).at(0).frame;
  return side;
}

// Proves two processes that meet at one name see each other's writes, exactly one of them created
// the segment, the object holds one copy (its allocated blocks are one segment's worth, not two),
// and — as root — both map the same physical pages.
TEST(SharedSegment, TwoProcessesShareOneCopy) {
  const std::string name = "pair";
  SegmentCleanup cleanup{name, test_options()};
  const std::uint64_t bytes = 16 * kMiB;
  int to_child[2], to_parent[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(to_parent), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 1;
    try {
      Side s = run_side(name, bytes, to_parent[1], to_child[0]);
      write_all(to_parent[1], &s, sizeof s);
      char go = 0;
      read_all(to_child[0], &go, 1);  // stay alive until the parent has measured
      code = s.other_half_ok ? 0 : 2;
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  Side mine = run_side(name, bytes, to_child[1], to_parent[0]);
  Side theirs;
  ASSERT_TRUE(read_all(to_parent[0], &theirs, sizeof theirs));

  EXPECT_TRUE(mine.other_half_ok);
  EXPECT_NE(mine.owner, theirs.owner) << "exactly one process creates";
  struct stat st {};
  const std::string object = "/dev/shm" + SharedSegment::object_name(name, test_options());
  ASSERT_EQ(::stat(object.c_str(), &st), 0);
  const auto allocated = static_cast<std::uint64_t>(st.st_blocks) * 512;
  EXPECT_GE(allocated, bytes);
  EXPECT_LE(allocated, bytes + 2 * kMiB);  // the data plus the header page (at most a huge page)
  if (mine.frames[0] != 0 && theirs.frames[0] != 0) {
    EXPECT_EQ(mine.frames[0], theirs.frames[0]);
    EXPECT_EQ(mine.frames[1], theirs.frames[1]);
  } else {
    std::cout << "physical frames not readable (needs root): compared bytes and blocks only\n";
  }
  char go = 'x';
  write_all(to_child[1], &go, 1);
  EXPECT_EQ(wait_exit_code(pid), 0);
  for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) ::close(fd);
}

// Proves the object is created with permissions 0600 whatever the umask, and belongs to this user.
TEST(SharedSegment, PermissionsAre0600) {
  for (mode_t mask : {mode_t{0}, mode_t{0177}}) {
    const std::string name = "perm" + std::to_string(mask);
    SegmentCleanup cleanup{name, test_options()};
    mode_t previous = ::umask(mask);
    auto seg = SharedSegment::create_or_attach(name, 4096, test_options());
    ::umask(previous);
    struct stat st {};
    ASSERT_EQ(::fstat(seg.native_handle(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "umask " << mask;
    EXPECT_EQ(st.st_uid, ::geteuid());
    struct stat by_path {};
    ASSERT_EQ(::stat(seg.path().c_str(), &by_path), 0);
    EXPECT_EQ(by_path.st_ino, st.st_ino);
  }
}

// Proves an attacher refuses a segment that others can open (mode not 0600), with Error(io).
TEST(SharedSegment, AttacherRefusesOpenPermissions) {
  const std::string name = "open";
  SegmentCleanup cleanup{name, test_options()};
  auto seg = SharedSegment::create_or_attach(name, 4096, test_options());
  seg.mark_ready();
  ASSERT_EQ(::fchmod(seg.native_handle(), 0644), 0);
  try {
    SharedSegment::create_or_attach(name, 4096, test_options());
    ADD_FAILURE() << "attached to a segment open to others";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::io);
    EXPECT_EQ(e.context_value("segment"), seg.path());
  }
}

// Proves an attacher returns only once the creator marked the segment ready: a marker written
// just before mark_ready, 300 ms after the attacher started waiting, is there when it returns.
TEST(SharedSegment, AttacherWaitsForReady) {
  const std::string name = "wait";
  SegmentCleanup cleanup{name, test_options()};
  auto seg = SharedSegment::create_or_attach(name, 8192, test_options());
  ASSERT_TRUE(seg.is_owner());
  EXPECT_FALSE(seg.ready());
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 1;
    try {
      auto mine = SharedSegment::create_or_attach(name, 8192, test_options());
      code = !mine.is_owner() && mine.ready() && mine.bytes()[8191] == std::byte{0x7e} &&
                     mine.generation() != 0
                 ? 0
                 : 2;
    } catch (...) {
      code = 3;
    }
    ::_exit(code);  // not returning: the inherited creator's segment must not be destroyed here
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  seg.data()[8191] = std::byte{0x7e};
  seg.mark_ready();
  EXPECT_EQ(wait_exit_code(pid), 0);
}

// Proves an attacher gives up after its timeout with Error(distributed) naming the segment when
// the creator never marks it ready.
TEST(SharedSegment, AttachTimesOutWithClearError) {
  const std::string name = "timeout";
  SegmentCleanup cleanup{name, test_options()};
  auto seg = SharedSegment::create_or_attach(name, 4096, test_options());
  SharedSegmentOptions o = test_options();
  o.attach_timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  try {
    SharedSegment::create_or_attach(name, 4096, o);
    ADD_FAILURE() << "attached to a segment never marked ready";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::distributed);
    EXPECT_EQ(e.context_value("segment"), seg.path());
    EXPECT_EQ(e.context_value("creator_pid"), std::to_string(::getpid()));
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
}

// Proves a creator that died before marking ready is reported at once (not after the timeout),
// naming its pid, and that remove() then clears the stale name so the segment can be made again.
TEST(SharedSegment, DeadCreatorIsReported) {
  const std::string name = "dead";
  SegmentCleanup cleanup{name, test_options()};
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      auto seg = SharedSegment::create_or_attach(name, 4096, test_options());
      ::_exit(seg.is_owner() ? 0 : 2);  // dies holding an unready segment: no destructor runs
    } catch (...) {
      ::_exit(3);
    }
  }
  ASSERT_EQ(wait_exit_code(pid), 0);
  auto start = std::chrono::steady_clock::now();
  try {
    SharedSegment::create_or_attach(name, 4096, test_options());  // 60 s timeout by default
    ADD_FAILURE() << "attached to a segment whose creator died";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::distributed);
    EXPECT_EQ(e.context_value("creator_pid"), std::to_string(pid));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(SharedSegment::remove(name, test_options()));
  EXPECT_FALSE(SharedSegment::remove(name, test_options()));
  EXPECT_TRUE(SharedSegment::create_or_attach(name, 4096, test_options()).is_owner());
}

// Proves a creator destroyed before marking ready removes the name and marks the segment failed,
// so a process still attached to it sees the failure instead of waiting.
TEST(SharedSegment, AbandonedSegmentIsFailedAndRemoved) {
  const std::string name = "abandon";
  SegmentCleanup cleanup{name, test_options()};
  std::string path;
  int fd = -1;
  {
    auto seg = SharedSegment::create_or_attach(name, 4096, test_options());
    path = seg.path();
    fd = ::dup(seg.native_handle());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  // The header's state word (offset 12) of the still-open object now says failed (2).
  std::uint32_t state = 0;
  ASSERT_EQ(::pread(fd, &state, sizeof state, 12), static_cast<ssize_t>(sizeof state));
  EXPECT_EQ(state, 2u);
  ::close(fd);
}

// Proves unlink removes the name while the mapping stays readable, and only the creator may
// unlink or mark ready; an existing segment of another size is refused.
TEST(SharedSegment, OwnershipRules) {
  const std::string name = "owner";
  SegmentCleanup cleanup{name, test_options()};
  auto seg = SharedSegment::create_or_attach(name, 4096, test_options());
  seg.data()[0] = std::byte{42};
  seg.mark_ready();
  auto other = SharedSegment::create_or_attach(name, 4096, test_options());
  EXPECT_FALSE(other.is_owner());
  EXPECT_EQ(other.generation(), seg.generation());
  EXPECT_EQ(other.bytes()[0], std::byte{42});
  for (auto call :
       {+[](SharedSegment& s) { s.unlink(); }, +[](SharedSegment& s) { s.mark_ready(); }}) {
    try {
      call(other);
      ADD_FAILURE() << "an attacher was allowed an owner's call";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
    }
  }
  try {
    SharedSegment::create_or_attach(name, 8192, test_options());
    ADD_FAILURE() << "attached with another size";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
  }
  seg.unlink();
  EXPECT_FALSE(std::filesystem::exists(seg.path()));
  EXPECT_EQ(other.bytes()[0], std::byte{42});
}

// Proves share_file gives every process the file's bytes from one copy — the attacher maps the
// very pages the creator filled — and that a segment holding an older version of the file is
// refused with Error(corrupt_data) naming the file.
TEST(SharedSegment, ShareFileAndStaleVersion) {
  const std::string name = "file";
  SegmentCleanup cleanup{name, test_options()};
  auto file = std::filesystem::temp_directory_path() / ("strata-ss-" + std::to_string(::getpid()));
  std::string contents(3 * kMiB + 5, '\0');
  for (std::size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>(pattern(i, 9));
  std::ofstream(file, std::ios::binary) << contents;

  auto first = SharedSegment::share_file(file.string(), name, test_options());
  auto second = SharedSegment::share_file(file.string(), name, test_options());
  EXPECT_TRUE(first.is_owner());
  EXPECT_FALSE(second.is_owner());
  ASSERT_EQ(second.size(), contents.size());
  EXPECT_EQ(std::memcmp(second.bytes().data(), contents.data(), contents.size()), 0);
  auto a = strata::test::page_entries(first.bytes().data() + 2 * kMiB, 1).at(0).frame;
  auto b = strata::test::page_entries(second.bytes().data() + 2 * kMiB, 1).at(0).frame;
  if (a != 0 && b != 0) {
    EXPECT_EQ(a, b);
  }

  std::ofstream(file, std::ios::binary | std::ios::trunc) << "a newer, shorter version";
  try {
    SharedSegment::share_file(file.string(), name, test_options());
    ADD_FAILURE() << "attached to a segment of an older version of the file";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data);
    EXPECT_EQ(e.context_value("file"), file.string());
  }
  std::filesystem::remove(file);
}

// Proves names follow "/strata-<job>-<name>": the Slurm job id when there is one, else the uid and
// the caller's key; and that names with characters outside [A-Za-z0-9_.-] are refused.
TEST(SharedSegment, NamesArePerJobAndValidated) {
  SharedSegmentOptions keyed;
  keyed.job_key = "run7";
  const char* saved = std::getenv("SLURM_JOB_ID");
  std::string saved_value = saved ? saved : "";
  ::unsetenv("SLURM_JOB_ID");
  ::unsetenv("SLURM_JOBID");
  EXPECT_EQ(SharedSegment::object_name("grid", keyed),
            "/strata-u" + std::to_string(::geteuid()) + "-run7-grid");
  EXPECT_EQ(SharedSegment::object_name("grid"),
            "/strata-u" + std::to_string(::geteuid()) + "-grid");
  ::setenv("SLURM_JOB_ID", "4242", 1);
  EXPECT_EQ(SharedSegment::object_name("grid"), "/strata-4242-grid");
  if (saved) {
    ::setenv("SLURM_JOB_ID", saved_value.c_str(), 1);
  } else {
    ::unsetenv("SLURM_JOB_ID");
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "a/b", "a b", "\xc3\xbc", std::string(129, 'a')}) {
    try {
      SharedSegment::object_name(bad);
      ADD_FAILURE() << "accepted name '" << bad << "'";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
    }
  }
  SharedSegmentOptions bad_key;
  bad_key.job_key = "x/y";
  EXPECT_THROW(SharedSegment::object_name("ok", bad_key), strata::Error);
}

// Proves a full /dev/shm makes creation fail with Error(resource) and leaves no name behind, rather
// than a SIGBUS while filling. Runs in a child with a private mount namespace holding a 1 MiB
// /dev/shm (root only; skipped otherwise).
TEST(SharedSegment, FullShmIsAResourceError) {
  int result[2];
  ASSERT_EQ(::pipe(result), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char code = 's';  // skipped
    bool private_shm = ::unshare(CLONE_NEWNS) == 0 &&
                       ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
                       ::mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=1m") == 0;
    if (private_shm) {
      try {
        SharedSegment::create_or_attach("full", 8 * kMiB, test_options());
        code = 'n';  // no error
      } catch (const strata::Error& e) {
        bool gone = !std::filesystem::exists(
            "/dev/shm" + SharedSegment::object_name("full", test_options()));
        code = e.category() == strata::ErrorCategory::resource && gone ? 'r' : 'w';
      } catch (...) {
        code = 'x';
      }
    }
    write_all(result[1], &code, 1);
    ::_exit(0);
  }
  char code = 0;
  ASSERT_TRUE(read_all(result[0], &code, 1));
  ::close(result[0]);
  ::close(result[1]);
  EXPECT_EQ(wait_exit_code(pid), 0);
  if (code == 's') GTEST_SKIP() << "cannot make a private mount namespace (needs root)";
  EXPECT_EQ(code, 'r') << "n: no error, w: wrong category or name left behind, x: not an Error";
}

// The bytes of the object's allocated blocks (what /dev/shm holds for it).
std::uint64_t allocated_bytes(const std::string& object) {
  struct stat st {};
  if (::stat(object.c_str(), &st) != 0) return ~std::uint64_t{0};
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

// Proves a segment created with allocate_on_create false holds no data pages until each part is
// allocated (the object's blocks grow by exactly the parts, widened to whole pages), that a part's
// pages land on the NUMA node asked for when the topology is this machine (the kernel's own
// answer, get_mempolicy), and that a synthetic topology allocates without placing; a range outside
// the data or a read-only attachment is Error(invalid_argument).
TEST(SharedSegment, AllocationByPartsIsPlacedPerPart) {
  const std::string name = "parts";
  SegmentCleanup cleanup{name, test_options()};
  SharedSegmentOptions o = test_options();
  o.allocate_on_create = false;
  o.transparent_huge_pages = false;  // 4 KiB pages: the block counts below are exact
  SharedSegment s = SharedSegment::create_or_attach(name, 8 * kMiB, o);
  ASSERT_TRUE(s.is_owner());
  const std::string object = "/dev/shm" + SharedSegment::object_name(name, o);
  const std::uint64_t header = allocated_bytes(object);
  EXPECT_LE(header, 2 * kMiB) << "only the header page before any part is allocated";

  const strata::Topology real = strata::Topology::load();
  const unsigned node = real.numa_nodes().back().index;
  // A part that starts and ends inside pages: widened to the pages it touches (3 MiB + 2 pages).
  const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const bool placed = s.allocate(kMiB + 100, 3 * kMiB, &real, strata::Placement::preferred(node));
  EXPECT_TRUE(placed) << "this machine's topology is real: the placement must be applied";
  EXPECT_EQ(allocated_bytes(object) - header, 3 * kMiB + page);
  int page_node = -1;
  ASSERT_EQ(::syscall(SYS_get_mempolicy, &page_node, nullptr, 0UL, s.data().data() + 2 * kMiB,
                      1UL /* MPOL_F_NODE */ | 2UL /* MPOL_F_ADDR */),
            0);
  EXPECT_EQ(static_cast<unsigned>(page_node), real.numa_nodes().back().os_index);

  // A synthetic topology: the pages are allocated, the placement is not applied.
  const strata::Topology synthetic = strata::Topology::synthetic("pack:2 numa:1 core:1 pu:1");
  EXPECT_FALSE(s.allocate(6 * kMiB, kMiB, &synthetic, strata::Placement::preferred(1)));
  EXPECT_EQ(allocated_bytes(object) - header, 4 * kMiB + page);

  EXPECT_THROW(s.allocate(7 * kMiB, 2 * kMiB), strata::Error);
  s.mark_ready();
  SharedSegmentOptions reader = test_options();
  SharedSegment attached = SharedSegment::create_or_attach(name, 8 * kMiB, reader);
  try {
    attached.allocate(0, kMiB);
    ADD_FAILURE() << "a read-only attachment allocated";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
  }
}

// Proves a segment in a hugetlbfs folder takes its pages from the hugetlb pool (the pool's free
// count drops by the header page plus the data pages) and is shared like any other. Reserves
// 2 MiB pages and mounts hugetlbfs itself (root only; skipped otherwise).
TEST(SharedSegment, HugetlbfsBacking) {
  strata::test::HugePageReservation reservation(2048, 8);
  if (reservation.reserved() < 4) GTEST_SKIP() << "cannot reserve 2 MiB pages";
  auto dir =
      std::filesystem::temp_directory_path() / ("strata-ss-huge-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  if (::mount("none", dir.c_str(), "hugetlbfs", 0, "pagesize=2M") != 0) {
    std::filesystem::remove(dir);
    GTEST_SKIP() << "cannot mount hugetlbfs: " << std::strerror(errno);
  }
  auto free_pages = [] {
    std::uint64_t n = 0;
    std::ifstream("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") >> n;
    return n;
  };
  {
    SharedSegmentOptions o = test_options();
    o.hugetlbfs_dir = dir.string();
    o.attach_writable = true;
    std::uint64_t before = free_pages();
    auto seg = SharedSegment::create_or_attach("huge", 4 * kMiB, o);
    EXPECT_EQ(before - free_pages(), 3u);  // one header page and two data pages
    EXPECT_EQ(seg.path(), dir.string() + SharedSegment::object_name("huge", o));
    seg.data()[4 * kMiB - 1] = std::byte{5};
    seg.mark_ready();
    auto other = SharedSegment::create_or_attach("huge", 4 * kMiB, o);
    EXPECT_EQ(other.bytes()[4 * kMiB - 1], std::byte{5});
    seg.unlink();
  }
  ::umount(dir.c_str());
  std::filesystem::remove_all(dir);
}

// Proves a placement on the segment is accepted on this machine and an unknown node refused.
TEST(SharedSegment, PlacementOnCreate) {
  static strata::Topology topo = strata::Topology::load();
  SharedSegmentOptions o = test_options();
  o.placement = strata::Placement::bind(0);
  o.topology = &topo;
  {
    SegmentCleanup cleanup{"placed", o};
    auto seg = SharedSegment::create_or_attach("placed", 4 * kMiB, o);
    seg.data()[0] = std::byte{1};
    EXPECT_EQ(seg.bytes()[0], std::byte{1});
  }
  o.placement = strata::Placement::bind(999);
  EXPECT_THROW(SharedSegment::create_or_attach("placed2", 4096, o), strata::Error);
}

}  // namespace
