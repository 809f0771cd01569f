#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the build tree into a fresh prefix and builds tests/install/consumer against it, the
# way an outside project would; fails if the package, headers, libraries or binary are unusable.
set -euo pipefail
build_dir=$1 consumer_src=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
test -x "$work/prefix/bin/strata" || { echo "strata binary not installed"; exit 1; }
"$work/prefix/bin/strata" --version
cmake -S "$consumer_src" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
out=$("$work/build/consumer")
echo "$out"
# The consumer prints the NUMA node count; it must equal the kernel's count of online nodes.
nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
[[ $nodes -ge 1 ]] || nodes=1
[[ "$out" == "numa_nodes=$nodes rank=0 size=1" ]] || { echo "unexpected consumer output"; exit 1; }
# The Python package, when built, imports from the prefix and runs a kernel with the installed
# libraries (found through its RPATH, not LD_LIBRARY_PATH).
package=$(find "$work/prefix" -path '*-packages/strata/__init__.py' -print -quit)
if [[ -n "$package" ]]; then
  sum=$(PYTHONPATH=$(dirname "$(dirname "$package")") /usr/bin/python3 -c \
        'import numpy, strata; print(strata.stats(numpy.arange(10.0)).sum)')
  [[ "$sum" == "45.0" ]] || { echo "installed Python package: unexpected sum '$sum'"; exit 1; }
  echo "installed Python package imported and ran"
fi
echo "outside project built and ran against the installed package"
