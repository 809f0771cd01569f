# SPDX-License-Identifier: Apache-2.0
# Finds every dependency of strata the standard way (pkg-config or the package's CMake config)
# and fails at configure time with the Debian package to install when one is missing.

find_package(PkgConfig QUIET)
if(NOT PkgConfig_FOUND)
  message(FATAL_ERROR "strata needs pkg-config: apt-get install pkg-config (or run scripts/setup)")
endif()

# strata_missing(<what> <debian package>) stops configuration with an actionable message.
function(strata_missing what package)
  message(FATAL_ERROR
    "strata: ${what} not found. Install the Debian package: apt-get install ${package}"
    " (scripts/setup installs every dependency).")
endfunction()

# strata_require_pkg(<prefix> <pkg-config module> <what> <debian package>): an imported
# PkgConfig::<prefix> target, or configuration stops naming the package.
macro(strata_require_pkg prefix module what package)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${prefix}_FOUND)
    strata_missing("${what}" "${package}")
  endif()
endmacro()

# strata_require_config(<package> <what> <debian package> [components...]): find_package in
# CONFIG mode, or configuration stops naming the Debian package.
macro(strata_require_config name what package)
  find_package(${name} QUIET CONFIG ${ARGN})
  if(NOT ${name}_FOUND)
    strata_missing("${what}" "${package}")
  endif()
endmacro()

strata_require_pkg(HWLOC hwloc>=2.0 "hwloc >= 2" libhwloc-dev)

strata_require_config(TBB "oneTBB" libtbb-dev COMPONENTS tbb)

find_package(MPI QUIET COMPONENTS C)
if(NOT MPI_C_FOUND)
  strata_missing("MPI (Open MPI)" "libopenmpi-dev openmpi-bin")
endif()

set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 QUIET COMPONENTS C)
if(NOT HDF5_FOUND)
  strata_missing("parallel HDF5" libhdf5-openmpi-dev)
endif()
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "strata: found a serial HDF5 (${HDF5_C_LIBRARIES}); strata needs the parallel "
                      "one. Install libhdf5-openmpi-dev (scripts/setup installs it).")
endif()

strata_require_pkg(ZSTD libzstd "zstd" libzstd-dev)

strata_require_pkg(XXHASH libxxhash "xxHash" libxxhash-dev)

strata_require_config(hwy "Google Highway" libhwy-dev)

find_package(OpenSSL QUIET COMPONENTS Crypto)
if(NOT OPENSSL_FOUND)
  strata_missing("OpenSSL libcrypto" libssl-dev)
endif()

strata_require_config(CLI11 "CLI11" libcli11-dev)

strata_require_config(nlohmann_json "nlohmann-json" nlohmann-json3-dev)

find_package(Threads REQUIRED)

if(STRATA_BUILD_TESTS)
  strata_require_config(GTest "GoogleTest" "libgtest-dev libgmock-dev")
  if(NOT MPIEXEC_EXECUTABLE)
    strata_missing("mpiexec" openmpi-bin)
  endif()
endif()

if(STRATA_BUILD_BENCHMARKS)
  strata_require_config(benchmark "Google Benchmark" libbenchmark-dev)
  # Allocator peers of bench/pools. jemalloc is not linked: Debian's replaces malloc, so
  # scripts/bench preloads libjemalloc.so.2 (package libjemalloc2) for a second run instead.
  strata_require_config(mimalloc "mimalloc" libmimalloc-dev)
  find_package(TBB QUIET CONFIG COMPONENTS tbbmalloc)
  if(NOT TARGET TBB::tbbmalloc)
    strata_missing("tbbmalloc" libtbb-dev)
  endif()
endif()

# The Python package: Debian's interpreter (/usr/bin/python3 — a python3 earlier on PATH may lack
# NumPy or pybind11), its headers and NumPy, and pybind11's CMake package. Missing any of them
# leaves the package out with a note, not a failed configuration.
set(STRATA_PYTHON_FOUND FALSE)
if(STRATA_BUILD_PYTHON)
  if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
    set(Python3_EXECUTABLE /usr/bin/python3)
  endif()
  find_package(Python3 QUIET COMPONENTS Interpreter Development.Module NumPy)
  find_package(pybind11 QUIET CONFIG)
  if(Python3_FOUND AND Python3_NumPy_FOUND AND pybind11_FOUND)
    set(STRATA_PYTHON_FOUND TRUE)
  else()
    message(STATUS "strata: the Python package is not built (needs python3-dev, python3-numpy and "
                   "pybind11-dev: scripts/setup installs them)")
  endif()
endif()
