// SPDX-License-Identifier: Apache-2.0
// Reads hugetlb pools and the THP mode from sysfs. Missing files mean "not offered", never an
// error: a container or an old kernel may hide them.
#include "strata/runtime/machine/huge_pages.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace strata {
namespace {

std::uint64_t read_count(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::uint64_t value = 0;
  if (!(in >> value)) return 0;
  return value;
}

}  // namespace

std::vector<HugePageSize> huge_page_sizes(const std::string& sysfs_root) {
  std::vector<HugePageSize> sizes;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(sysfs_root, ec)) {
    // Folders are named hugepages-<N>kB.
    const std::string name = entry.path().filename().string();
    constexpr std::string_view prefix = "hugepages-";
    if (!name.starts_with(prefix) || !name.ends_with("kB")) continue;
    std::uint64_t kib = 0;
    const char* first = name.data() + prefix.size();
    const char* last = name.data() + name.size() - 2;
    auto [ptr, err] = std::from_chars(first, last, kib);
    if (err != std::errc() || ptr != last || kib == 0) continue;
    HugePageSize hp;
    hp.page_bytes = kib * 1024;
    hp.total_pages = read_count(entry.path() / "nr_hugepages");
    hp.free_pages = read_count(entry.path() / "free_hugepages");
    hp.reserved_pages = read_count(entry.path() / "resv_hugepages");
    hp.surplus_pages = read_count(entry.path() / "surplus_hugepages");
    hp.overcommit_pages = read_count(entry.path() / "nr_overcommit_hugepages");
    sizes.push_back(hp);
  }
  std::sort(sizes.begin(), sizes.end(),
            [](const HugePageSize& a, const HugePageSize& b) { return a.page_bytes < b.page_bytes; });
  return sizes;
}

std::string_view to_string(ThpMode mode) noexcept {
  switch (mode) {
    case ThpMode::always: return "always";
    case ThpMode::madvise: return "madvise";
    case ThpMode::never: return "never";
    case ThpMode::unavailable: return "unavailable";
  }
  return "unavailable";
}

ThpMode parse_thp_mode(std::string_view text) noexcept {
  auto open = text.find('[');
  auto close = text.find(']', open == std::string_view::npos ? 0 : open);
  if (open == std::string_view::npos || close == std::string_view::npos) return ThpMode::unavailable;
  std::string_view choice = text.substr(open + 1, close - open - 1);
  if (choice == "always") return ThpMode::always;
  if (choice == "madvise") return ThpMode::madvise;
  if (choice == "never") return ThpMode::never;
  return ThpMode::unavailable;
}

ThpMode transparent_huge_page_mode(const std::string& enabled_file) {
  std::ifstream in(enabled_file);
  if (!in) return ThpMode::unavailable;
  std::stringstream text;
  text << in.rdbuf();
  return parse_thp_mode(text.str());
}

std::uint64_t base_page_bytes() noexcept {
  long bytes = ::sysconf(_SC_PAGESIZE);
  return bytes > 0 ? static_cast<std::uint64_t>(bytes) : 4096;
}

}  // namespace strata
