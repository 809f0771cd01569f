// SPDX-License-Identifier: Apache-2.0
// The checkpoint folder's owner: rank 0 of the job that writes holds an exclusive flock on
// `.strata-lock` in the folder for the Checkpointer's life, and writes its host and pid there, so
// a second job on the same folder is refused with a message naming the holder instead of
// removing the first job's unfinished steps and pruning its checkpoints.
#pragma once

#include <string>

namespace strata::io::detail {

inline constexpr const char* kLockFileName = ".strata-lock";

class FolderLock {
 public:
  FolderLock() = default;
  // Takes the lock on `dir` (which exists) without waiting. Throws Error(io) naming the folder
  // and the holder ("host node12, pid 4711") when another process holds it, or when the lock file
  // cannot be opened.
  explicit FolderLock(const std::string& dir);
  ~FolderLock();
  FolderLock(FolderLock&& other) noexcept;
  FolderLock& operator=(FolderLock&& other) noexcept;

 private:
  int fd_ = -1;
};

}  // namespace strata::io::detail
