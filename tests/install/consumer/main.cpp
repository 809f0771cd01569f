// SPDX-License-Identifier: Apache-2.0
// A user program built against the installed strata package: starts the runtime and reports.
#include <iostream>
#include <strata/strata.hpp>

int main(int argc, char** argv) {
  strata::Runtime rt(argc, argv);
  std::cout << "numa_nodes=" << rt.topology().numa_nodes().size() << " rank=" << rt.rank()
            << " size=" << rt.size() << '\n';
  return 0;
}
