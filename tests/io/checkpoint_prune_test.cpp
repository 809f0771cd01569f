// SPDX-License-Identifier: Apache-2.0
// Pruning older steps runs after a save reports its commit: a step that cannot be pruned leaves
// the new step committed (wait() returns it) and stays behind, with and without a local level.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/scratch_folder.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"

namespace {

namespace fs = std::filesystem;

// Makes `file` impossible to unlink, also for root (the immutable attribute; for another user a
// read-only parent folder does it), and undoes that when it goes out of scope.
class Unremovable {
 public:
  explicit Unremovable(const fs::path& file) : file_(file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      int flags = 0;
      if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
        flags |= FS_IMMUTABLE_FL;
        immutable_ = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
      }
      ::close(fd);
    }
    if (!immutable_ && ::geteuid() != 0) {
      read_only_ = ::chmod(file.parent_path().c_str(), 0555) == 0;
    }
  }
  ~Unremovable() {
    if (immutable_) {
      const int fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
      int flags = 0;
      if (fd >= 0 && ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
        flags &= ~FS_IMMUTABLE_FL;
        (void)::ioctl(fd, FS_IOC_SETFLAGS, &flags);
      }
      if (fd >= 0) ::close(fd);
    }
    if (read_only_) (void)::chmod(file_.parent_path().c_str(), 0755);
  }
  bool held() const { return immutable_ || read_only_; }

 private:
  fs::path file_;
  bool immutable_ = false;
  bool read_only_ = false;
};

class CheckpointPruneTest : public strata::test::ScratchFolderTest {
 protected:
  CheckpointPruneTest() : ScratchFolderTest("strata-prune") {}

  strata::Runtime rt_{strata::RuntimeOptions{.install_stop_signals = false}};
  strata::Executor ex_{rt_, {.threads = 2}};
};

// The folder of `step` under `dir`, or, with a local level, under its one node folder.
fs::path step_folder(const fs::path& dir, long step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08ld", step);
  if (fs::exists(dir / name)) return dir / name;
  for (const auto& node : fs::directory_iterator(dir)) {
    if (fs::exists(node.path() / name)) return node.path() / name;
  }
  return dir / name;
}

// With keep = 1, step 1's manifest made unremovable before step 2 is saved: wait() reports step 2
// committed, and once the Checkpointer is gone both steps are there. Would fail if pruning were
// part of the commit (the save of step 2 failed with "cannot remove an old checkpoint").
TEST_F(CheckpointPruneTest, StepThatCannotBePrunedLeavesTheNewStepCommitted) {
  for (const bool local : {false, true}) {
    SCOPED_TRACE(local ? "local level" : "shared folder only");
    strata::io::CheckpointOptions o;
    o.dir = path(local ? "shared-l" : "shared");
    if (local) o.local_dir = path("local");
    o.drain_every = 0;  // the shared folder is not pruned by a drain here
    o.keep = 1;
    o.codec = strata::io::no_compression();
    std::vector<double> field(64 * 64, 1.0);
    const fs::path saves = local ? fs::path(o.local_dir) : fs::path(o.dir);
    {
      strata::io::Checkpointer ck(rt_, ex_, o);
      ck.protect("u", std::span(field), {.global_shape = {64, 64}, .first_row = 0});
      ck.save(1);
      ck.wait();
      Unremovable hold(step_folder(saves, 1) / "manifest.json");
      if (!hold.held()) GTEST_SKIP() << "cannot make a file unremovable here";
      field[0] = 2.0;
      ck.save(2);
      const strata::io::SaveStatus st = ck.wait();
      EXPECT_EQ(st.state, strata::io::SaveState::committed) << st.error;
      EXPECT_EQ(st.step, 2);
      ck.save(3);  // waits for the prune after step 2, which failed
      EXPECT_EQ(ck.wait().state, strata::io::SaveState::committed);
      EXPECT_TRUE(fs::exists(step_folder(saves, 1) / "manifest.json"));
    }
    // Step 1 released: the next Checkpointer's prune (after step 4) removes it and step 2, 3.
    strata::io::Checkpointer ck(rt_, ex_, o);
    ck.protect("u", std::span(field), {.global_shape = {64, 64}, .first_row = 0});
    ck.save(4);
    ck.wait();
    ck.finish_drain();
    EXPECT_FALSE(fs::exists(step_folder(saves, 1)));
    EXPECT_TRUE(fs::exists(step_folder(saves, 4) / "manifest.json"));
  }
}

}  // namespace
