// SPDX-License-Identifier: Apache-2.0
// What a crashed run leaves in a checkpoint folder, put right by the next Checkpointer (rank 0,
// before any save): `step-N.tmp` folders were never committed and go; `step-N.replaced` is the
// previous copy of a step whose re-save crashed between its two renames — it comes back when the
// new `step-N` never arrived, and goes when it did.
#include <filesystem>

#include "checkpoint/checkpointer_impl.hpp"

namespace strata::io {

namespace fs = std::filesystem;

void recover_step_folders(const std::string& dir) {
  std::error_code ec;
  for (long step : detail::temp_step_folders(dir))
    fs::remove_all(detail::temp_step_folder(dir, step), ec);
  constexpr std::string_view kReplaced = ".replaced";
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string path = entry.path().string();
    const std::string name = entry.path().filename().string();
    if (name.size() <= kReplaced.size() || !name.ends_with(kReplaced)) continue;
    const std::string original = path.substr(0, path.size() - kReplaced.size());
    if (fs::exists(original)) {
      fs::remove_all(path, ec);
    } else {
      fs::rename(path, original, ec);
    }
  }
}

}  // namespace strata::io
