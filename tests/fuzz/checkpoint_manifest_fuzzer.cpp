// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for checkpoint manifest decoding (a manifest is untrusted input: restore and
// every `strata ckpt` command read it): any input must decode or fail with strata::Error, never
// crash, hang or trip a sanitizer. Seeded by scripts/fuzz with manifests strata_heat wrote.
#include <cstddef>
#include <cstdint>
#include <string>

#include "checkpoint/checkpoint_manifest.hpp"
#include "strata/runtime/base/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const strata::io::detail::Manifest m = strata::io::detail::decode_manifest(text, "fuzz.json");
    (void)m.raw_bytes();
    (void)m.shard_bytes();
    (void)strata::io::detail::encode_manifest(m);
  } catch (const strata::Error&) {
  }
  return 0;
}
