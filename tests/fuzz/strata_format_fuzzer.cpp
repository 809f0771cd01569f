// libFuzzer target for the .strata header, table and metadata parser. The input is the start of
// a file; its last 8 bytes say how long the (sparse, zero-filled) file claims to be. Each input is
// parsed twice: as it is (checksums must reject it) and resealed — header and table checksums
// recomputed — so mutations reach the field checks behind them. Anything but a clean
// strata::Error (a crash, a sanitizer report, another exception) is a finding.
#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "strata/io/format/strata_file.hpp"
#include "strata/runtime/base/error.hpp"

namespace {

// Large enough for layouts with data past 2 MiB alignment; small enough that no allocation the
// parser makes from it (tables are bounded by the file size) can exhaust memory.
constexpr std::uint64_t kMaxClaimedBytes = std::uint64_t{64} << 20;

void parse(const std::vector<std::byte>& prefix, std::uint64_t file_bytes) {
  try {
    strata::io::StrataFile::validate_image(prefix, file_bytes, "fuzz-input");
  } catch (const strata::Error&) {
    // The expected outcome for malformed input.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t claimed;
  std::memcpy(&claimed, data + size - 8, 8);
  claimed %= kMaxClaimedBytes;
  std::vector<std::byte> prefix(reinterpret_cast<const std::byte*>(data),
                                reinterpret_cast<const std::byte*>(data) + size - 8);
  parse(prefix, std::max<std::uint64_t>(claimed, prefix.size()));

  if (prefix.size() >= 512) {
    std::uint64_t table_bytes;
    std::memcpy(&table_bytes, prefix.data() + 128, 8);
    if (table_bytes <= prefix.size() - 512) {
      std::uint64_t sum = XXH3_64bits(prefix.data() + 512, table_bytes);
      std::memcpy(prefix.data() + 136, &sum, 8);
    }
    std::uint64_t header_sum = XXH3_64bits(prefix.data(), 504);
    std::memcpy(prefix.data() + 504, &header_sum, 8);
    parse(prefix, std::max<std::uint64_t>(claimed, prefix.size()));
  }
  return 0;
}
