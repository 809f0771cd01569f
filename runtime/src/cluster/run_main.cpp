// SPDX-License-Identifier: Apache-2.0
// run_main: the Runtime around a job's body, and an error leaving it printed in one line before
// the job is ended.
#include "strata/runtime/cluster/run_main.hpp"

#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <string>

#include "cluster/uncaught_error.hpp"
#include "strata/runtime/machine/memory_availability.hpp"

namespace strata {
namespace {

// Runs make_runtime() and the body; prints what escapes either. The Runtime is created inside
// the try so that its own errors are printed the same way, and destroyed after the catch has
// printed and (with several ranks) aborted.
int guarded(const std::function<Runtime*(std::optional<Runtime>&)>& make_runtime,
            const JobBody& body) {
  std::optional<Runtime> rt;
  std::string what;
  try {
    return body(*make_runtime(rt));
  } catch (const std::bad_alloc&) {
    // Named as memory, with the address-space limit when one is set, not as "std::bad_alloc".
    what = out_of_memory_error("running the job").what();
  } catch (const std::exception& e) {
    what = e.what();
  }
  detail::print_error_line(what);
  // The other ranks may wait in a collective for this one: end them all.
  if (rt && rt->size() > 1) rt->mpi().abort(1);
  return 1;
}

}  // namespace

int run_main(int& argc, char**& argv, const JobBody& body, RuntimeOptions options) {
  return guarded(
      [&](std::optional<Runtime>& rt) { return &rt.emplace(argc, argv, std::move(options)); },
      body);
}

int run_main(RuntimeOptions options, const JobBody& body) {
  return guarded([&](std::optional<Runtime>& rt) { return &rt.emplace(std::move(options)); }, body);
}

}  // namespace strata
