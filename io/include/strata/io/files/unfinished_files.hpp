// SPDX-License-Identifier: Apache-2.0
// Unfinished output files: what strata writes under a hidden temporary name and renames into
// place when complete. Here a program makes sure none survives an interrupt (SIGINT, SIGTERM,
// SIGHUP) or a kill, and names its own unfinished outputs the same way.
//
//   strata::io::remove_abandoned_files("/scratch/run");        // leftovers of a SIGKILLed run
//   strata::io::InterruptCleanup cleanup("gen /scratch/run/x.strata");
//   strata::io::generate_dataset("/scratch/run/x.strata", options);  // ^C: temp removed, exit 130
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace strata::io {

// While it lives, SIGINT, SIGTERM and SIGHUP end the process the way a user expects of a command
// that writes files: the handler removes every unfinished output file of this process (unlink is
// async-signal-safe, so it works wherever the signal lands: inside an HDF5 call, a TBB worker, a
// blocking write), prints one line "strata: <what> interrupted by SIGINT; nothing was written"
// to stderr, and ends the process by the same signal (exit status 128 + signal: 130, 143, 129).
// Nothing is left to unwind, so no long loop needs to poll a flag. Not for programs that handle
// SIGTERM themselves (a Runtime's stop signals): one at a time. The destructor restores the
// previous handlers. Error(system) when a handler cannot be installed.
class InterruptCleanup {
 public:
  explicit InterruptCleanup(std::string_view what);
  ~InterruptCleanup();
  InterruptCleanup(const InterruptCleanup&) = delete;
  InterruptCleanup& operator=(const InterruptCleanup&) = delete;
};

// A hidden name beside `final_path` for an output that a library creates by name (HDF5), removed
// on interrupt (InterruptCleanup) and by the destructor unless published. Nothing is created here.
class UnfinishedFile {
 public:
  explicit UnfinishedFile(const std::string& final_path);
  ~UnfinishedFile();
  UnfinishedFile(const UnfinishedFile&) = delete;
  UnfinishedFile& operator=(const UnfinishedFile&) = delete;

  const std::string& path() const noexcept { return path_; }
  // fsync, rename over final_path, fsync the folder. Error(io) (Error(resource) for a full disk)
  // with `context` when that fails; the file is then removed by the destructor.
  void publish(const std::string& final_path, const std::vector<ErrorContext>& context);

 private:
  std::string path_;
  int slot_ = -1;
  bool published_ = false;
};

// Removes from `folder` the unfinished output files that a killed process left (SIGKILL, a node
// crash): regular files named as strata names them, owned by this user, created on this host by a
// process that no longer exists. Files of live processes, of other hosts (a shared file system)
// and of other users are left alone. Returns the paths removed; a folder that cannot be read
// gives an empty list (the write that follows reports the problem).
std::vector<std::string> remove_abandoned_files(const std::string& folder);

}  // namespace strata::io
