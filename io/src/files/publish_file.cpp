// SPDX-License-Identifier: Apache-2.0
// publish_file (fsync, rename, fsync the folder), write_file_durably built on it, make_folder.
#include "files/publish_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "files/file_io.hpp"

namespace strata::io::detail {

void sync_folder(const std::string& folder, const std::vector<ErrorContext>& context) {
  const int dfd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw_errno("cannot open folder to sync it", errno, context);
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) throw_errno("cannot sync folder", err, context);
}

void publish_file(const std::string& temp_path, const std::string& final_path,
                  const std::vector<ErrorContext>& context) {
  const int fd = ::open(temp_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open the finished file to sync it", errno, context);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw_errno("cannot sync the finished file", err, context);
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    throw_errno("cannot rename the finished file into place", errno, context);
  }
  sync_folder(std::filesystem::path(final_path).parent_path().string(), context);
}

void write_file_durably(const std::string& path, const std::string& text) {
  std::string temp = path;
  temp += ".part";
  // A new name only, never through a link: a file or link planted under it is refused.
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) throw_errno("cannot create file", errno, {{"file", temp}});
  try {
    write_all(fd, temp, 0, std::as_bytes(std::span(text.data(), text.size())));
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  ::close(fd);
  publish_file(temp, path, {{"file", path}});
}

void make_folder(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && parent != std::filesystem::path(path) &&
      !std::filesystem::exists(parent)) {
    make_folder(parent.string());
  }
  if (::mkdir(path.c_str(), 0777) != 0 && errno != EEXIST) {
    throw_errno("cannot create folder", errno, {{"folder", path}});
  }
}

}  // namespace strata::io::detail
