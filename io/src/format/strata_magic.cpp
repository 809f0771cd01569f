// SPDX-License-Identifier: Apache-2.0
// is_strata_file: recognising a `.strata` file by its magic, for tools deciding what they may
// replace.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "format/strata_format.hpp"
#include "strata/io/format/strata_file.hpp"

namespace strata::io {

bool is_strata_file(const std::string& path) {
  // O_NONBLOCK: a FIFO planted under the name must not hang the check (it is refused below).
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  std::array<std::uint8_t, detail::kMagic.size()> head{};
  const bool is = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                  ::pread(fd, head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()) &&
                  std::equal(head.begin(), head.end(), detail::kMagic.begin());
  ::close(fd);
  return is;
}

}  // namespace strata::io
