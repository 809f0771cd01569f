// strata's umbrella header: everything public of every layer. Link strata::strata.
//
//   #include <strata/strata.hpp>
//   int main(int argc, char** argv) { strata::Runtime rt(argc, argv); ... }
#pragma once

#include "strata/io/dataset.hpp"
#include "strata/io/hdf5.hpp"
#include "strata/io/partition.hpp"
#include "strata/io/strata_file.hpp"
#include "strata/io/strata_writer.hpp"
#include "strata/io/synthetic.hpp"
#include "strata/kernels/simd_targets.hpp"
#include "strata/runtime/array.hpp"
#include "strata/runtime/cpu_set.hpp"
#include "strata/runtime/dtype.hpp"
#include "strata/runtime/error.hpp"
#include "strata/runtime/huge_pages.hpp"
#include "strata/runtime/log.hpp"
#include "strata/runtime/mapped_file.hpp"
#include "strata/runtime/mapped_view_cache.hpp"
#include "strata/runtime/memory_availability.hpp"
#include "strata/runtime/memory_manager.hpp"
#include "strata/runtime/memory_statistics.hpp"
#include "strata/runtime/mpi_context.hpp"
#include "strata/runtime/placed_region.hpp"
#include "strata/runtime/placement.hpp"
#include "strata/runtime/placement_plan.hpp"
#include "strata/runtime/runtime.hpp"
#include "strata/runtime/shared_segment.hpp"
#include "strata/runtime/slurm_env.hpp"
#include "strata/runtime/stop_signals.hpp"
#include "strata/runtime/topology.hpp"
