// SPDX-License-Identifier: Apache-2.0
// TemporaryFile: the one way strata creates the file it will publish under a final name — beside
// it (so the rename stays on one file system), hidden, under a name no one can predict, and
// created exclusively without following a symlink, so nothing planted in the folder can redirect
// the write. Its mode is 0666 less the umask, as any file a user's program creates.
//
// While unpublished it is in the table that InterruptCleanup's handler empties, and its name
// carries this process's pid and host so that remove_abandoned_files can tell a killed writer's
// leftover (unfinished_files.hpp).
//
//   auto temp = detail::TemporaryFile::beside("/data/out.strata");  // /data/.out.strata.tmp-PID-...
//   ... write through temp.fd() ...
//   temp.publish({{"file", "/data/out.strata"}});  // fsync, rename over the final name, fsync folder
#pragma once

#include <string>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {

class TemporaryFile {
 public:
  // Creates ".<final name>.tmp-<pid>-<host>-<16 random hex digits>" in final_path's folder, open read-write,
  // with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC and mode 0666 & ~umask. Error(io) (or resource)
  // naming final_path when it cannot.
  static TemporaryFile beside(const std::string& final_path);

  TemporaryFile(TemporaryFile&& other) noexcept;
  TemporaryFile& operator=(TemporaryFile&& other) noexcept;
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile();  // closes it and removes it unless published

  int fd() const noexcept { return fd_; }
  const std::string& path() const noexcept { return path_; }
  // A name that opens exactly this file whatever happens to its folder entry (/proc/self/fd/N),
  // for libraries that insist on opening by name (HDF5).
  std::string descriptor_path() const;

  // Closes the descriptor (Error(io) naming the file when close reports a failed write), then
  // publishes: fsync, rename over final_path (which replaces a symlink there, never its target),
  // fsync the folder. After success the destructor leaves the file alone.
  void publish(const std::string& final_path, const std::vector<ErrorContext>& context);

 private:
  TemporaryFile(std::string path, int fd, int slot)
      : path_(std::move(path)), fd_(fd), slot_(slot) {}
  void release() noexcept;

  std::string path_;
  int fd_ = -1;
  int slot_ = -1;  // in the unfinished-file table, or -1
  bool published_ = false;
};

}  // namespace strata::io::detail
