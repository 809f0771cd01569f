// publish_file: fsync, rename, fsync the folder.
#include "files/publish_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

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

}  // namespace strata::io::detail
