// SPDX-License-Identifier: Apache-2.0
// The process-wide table of unfinished output files (temporaries not yet renamed into place) that
// the interrupt handler of InterruptCleanup removes, and the hidden name every one of them gets.
// The table is fixed-size and lock-free so a signal handler can walk it.
#pragma once

#include <string>

namespace strata::io::detail {

// ".NAME.tmp-PID-HOST-RANDOM" in final_path's folder: PID this process, HOST 8 hex digits of a
// hash of the host name, RANDOM 16 hex digits from the kernel (a name no one can plant in
// advance). PID and HOST let a later run tell a killed writer's leftover from a live one.
std::string unfinished_name_beside(const std::string& final_path);

// True when `name` (a file name, no folder) has the form above; pid and host_hash then hold its
// parts.
bool parse_unfinished_name(const std::string& name, long& pid, std::string& host_hash);

// This host's 8 hex digits.
const std::string& host_hash();

// Records `path` for removal on interrupt. Returns its slot, or -1 when the table is full (the
// file is then only removed by a later run, as a killed run's would be).
int register_unfinished(const std::string& path) noexcept;
// The file is being renamed into place: an interrupt no longer removes it unless the rename has
// not happened.
void mark_publishing(int slot) noexcept;
// The file is gone or published: the slot is free again. -1 is ignored.
void unregister_unfinished(int slot) noexcept;

}  // namespace strata::io::detail
