// SPDX-License-Identifier: Apache-2.0
// guard_mapped_read: runs a read of mapped file bytes so that a SIGBUS inside them — the file was
// truncated after it was mapped — becomes a strata::Error naming the file instead of killing the
// process. A process-wide SIGBUS handler (installed once, chaining to any handler before it) checks
// whether the fault lies in the range the faulting thread has guarded and jumps back out of the
// read; a fault anywhere else goes to the previous handler (or kills, as it would have).
//
//   auto view = file.bytes(offset, bytes);
//   double sum = strata::guard_mapped_read(view, [&] { return kernels::sum(as_doubles(view)); });
//
// Guard a whole chunk, not an element: the cost is one sigsetjmp per call. The guarded code must
// be plain reads (a kernel, a checksum, a memcpy): a fault abandons it without unwinding, so it
// must hold no lock and own nothing that needs a destructor.
#pragma once

#include <csetjmp>
#include <cstddef>
#include <span>
#include <string>
#include <utility>

namespace strata {

namespace detail {

// One guarded read on a thread's stack: the range, where to jump, the guard it is nested in.
struct MappedReadFrame {
  const std::byte* begin = nullptr;
  const std::byte* end = nullptr;
  const void* fault_address = nullptr;  // set by the handler before it jumps
  MappedReadFrame* outer = nullptr;
  sigjmp_buf jump;

  explicit MappedReadFrame(std::span<const std::byte> range) noexcept;  // installs, then pushes
  ~MappedReadFrame();                                                   // pops
  MappedReadFrame(const MappedReadFrame&) = delete;
  MappedReadFrame& operator=(const MappedReadFrame&) = delete;
};

// After the handler jumped to `frame`: unblocks SIGBUS and throws Error(corrupt_data) naming the
// mapped file that holds the fault address (see register_mapped_file), and the offset in it.
[[noreturn]] void throw_mapped_read_fault(const MappedReadFrame& frame);

}  // namespace detail

// Calls f() and returns what it returns; a SIGBUS at an address inside `range` while it runs is
// Error(corrupt_data) "file was truncated while it was being read" with the file and offset
// (when the range belongs to a MappedFile). Nests; safe from any number of threads at once.
template <class F>
decltype(auto) guard_mapped_read(std::span<const std::byte> range, F&& f) {
  detail::MappedReadFrame frame(range);
  // savemask 0: no sigprocmask per call; the fault path unblocks SIGBUS itself.
  if (sigsetjmp(frame.jump, 0) != 0) detail::throw_mapped_read_fault(frame);
  return std::forward<F>(f)();
}

// Installs the SIGBUS handler now (guard_mapped_read does on first use). Idempotent.
void install_mapped_read_handler();

// The mapped files the fault message can name: MappedFile registers each mapping it makes and
// unregisters it when unmapped. Bytes outside any registered mapping are reported without a file.
void register_mapped_file(const void* begin, std::size_t bytes, const std::string& path);
void unregister_mapped_file(const void* begin) noexcept;

}  // namespace strata
