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

pkg_check_modules(HWLOC QUIET IMPORTED_TARGET GLOBAL hwloc>=2.0)
if(NOT HWLOC_FOUND)
  strata_missing("hwloc >= 2" libhwloc-dev)
endif()

find_package(TBB QUIET CONFIG COMPONENTS tbb)
if(NOT TBB_FOUND)
  strata_missing("oneTBB" libtbb-dev)
endif()

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

pkg_check_modules(ZSTD QUIET IMPORTED_TARGET GLOBAL libzstd)
if(NOT ZSTD_FOUND)
  strata_missing("zstd" libzstd-dev)
endif()

pkg_check_modules(XXHASH QUIET IMPORTED_TARGET GLOBAL libxxhash)
if(NOT XXHASH_FOUND)
  strata_missing("xxHash" libxxhash-dev)
endif()

find_package(hwy QUIET CONFIG)
if(NOT hwy_FOUND)
  strata_missing("Google Highway" libhwy-dev)
endif()

find_package(OpenSSL QUIET COMPONENTS Crypto)
if(NOT OPENSSL_FOUND)
  strata_missing("OpenSSL libcrypto" libssl-dev)
endif()

find_package(CLI11 QUIET CONFIG)
if(NOT CLI11_FOUND)
  strata_missing("CLI11" libcli11-dev)
endif()

find_package(nlohmann_json QUIET CONFIG)
if(NOT nlohmann_json_FOUND)
  strata_missing("nlohmann-json" nlohmann-json3-dev)
endif()

find_package(Threads REQUIRED)

if(STRATA_BUILD_TESTS)
  find_package(GTest QUIET CONFIG)
  if(NOT GTest_FOUND)
    strata_missing("GoogleTest" "libgtest-dev libgmock-dev")
  endif()
  if(NOT MPIEXEC_EXECUTABLE)
    strata_missing("mpiexec" openmpi-bin)
  endif()
endif()

if(STRATA_BUILD_BENCHMARKS)
  find_package(benchmark QUIET CONFIG)
  if(NOT benchmark_FOUND)
    strata_missing("Google Benchmark" libbenchmark-dev)
  endif()
  # Allocator peers of bench/pools. jemalloc is not linked: Debian's replaces malloc, so
  # scripts/bench preloads libjemalloc.so.2 (package libjemalloc2) for a second run instead.
  find_package(mimalloc QUIET CONFIG)
  if(NOT mimalloc_FOUND)
    strata_missing("mimalloc" libmimalloc-dev)
  endif()
  find_package(TBB QUIET CONFIG COMPONENTS tbbmalloc)
  if(NOT TARGET TBB::tbbmalloc)
    strata_missing("tbbmalloc" libtbb-dev)
  endif()
endif()
