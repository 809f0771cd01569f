// SPDX-License-Identifier: Apache-2.0
// XXH3 for the io layer: libxxhash with its x86 run-time dispatch (SSE2, AVX2 or AVX-512 by CPU;
// the same hash values, about three times the SSE2 build's speed on data in cache). The dispatch
// header's macros replace the XXH3_64bits* names, so include this instead of <xxhash.h>.
#pragma once

#include <xxhash.h>
#if defined(__x86_64__)
#include <xxh_x86dispatch.h>
#endif
