// SPDX-License-Identifier: Apache-2.0
// Where a partition's bytes live while a job works on them, chosen with one option:
//   mapped       the .strata file's page cache, zero copy (large folios where the kernel has them);
//   resident     this rank's copy in huge pages, each block on the NUMA node whose threads read it,
//                read straight from the file and verified in the same pass;
//   node-shared  one copy per node in a shared segment (hugetlbfs, or shared memory with THP),
//                loaded cooperatively by the node's ranks, freed when the last one leaves.
// The default picks the fastest that fits in the memory available, and says which and why.
//
//   auto part = ds.partition(rt.rank(), rt.size());
//   auto data = strata::io::load(rt, ex, part, {.memory = strata::io::DataMemory::resident});
//   auto s = strata::reduce<double>(ex, data, strata::kernels::Stats{});
//   std::cout << data.report().summary() << '\n';   // "resident, hugetlb 2 MiB, 1.5 GiB, ..."
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/io/dataset/dataset.hpp"
#include "strata/io/dataset/partition_source.hpp"
#include "strata/runtime/cluster/runtime.hpp"
#include "strata/runtime/memory/placed_region.hpp"
#include "strata/scheduler/executor.hpp"
#include "strata/scheduler/parallel.hpp"

namespace strata::io {

enum class DataMemory { automatic, mapped, resident, node_shared };
// "auto", "mapped", "resident", "node-shared".
std::string_view to_string(DataMemory memory) noexcept;
// The inverse of to_string; Error(invalid_argument) naming the value and the choices.
DataMemory parse_data_memory(std::string_view text);

struct DataOptions {
  DataMemory memory = DataMemory::automatic;
  // resident and node-shared: where the huge-page fallback chain starts (RegionOptions).
  PageSize largest_pages = PageSize::huge_1g;
  // mapped: MADV_COLLAPSE the partition's page cache into 2 MiB pages before the pass (Linux 6.1+;
  // synchronous, so it reads cold data in, in parallel on the executor's threads).
  bool collapse = true;
};

// What a load did, in the terms a user checks: the choice, the pages really got, the cost.
struct DataMemoryReport {
  DataMemory memory = DataMemory::mapped;  // what holds the data (never automatic)
  bool automatic = false;                  // chosen by the default rule
  std::string reason;                      // why this one
  std::string pages;                       // the page kind the kernel gave, from smaps
  std::uint64_t huge_bytes = 0;            // bytes of the data's mapping in huge pages
  std::string backing;                     // node-shared: the segment's file and its backing
  std::vector<std::string> fallbacks;      // larger page sizes refused, with the reason
  bool placement_applied = false;          // resident, node-shared: pages placed on the nodes (real topology)
  std::uint64_t bytes = 0;                 // this rank's partition
  std::uint64_t node_bytes = 0;            // node-shared: the node's one copy
  double load_seconds = 0;                 // read and verify (0 for mapped: that is the pass)

  // One line: "resident (auto: 2.0 GiB fits in 20 GiB available), hugetlb 2 MiB".
  std::string summary() const;
};

// A partition with its bytes where DataOptions put them. Move-only; keeps the partition (and its
// file) alive and, for node-shared, this rank's mapping of the segment.
class PartitionData {
 public:
  PartitionData(PartitionData&&) noexcept;
  PartitionData& operator=(PartitionData&&) noexcept;
  ~PartitionData();

  const Partition& partition() const noexcept;
  const DataMemoryReport& report() const noexcept;
  // The loaded bytes, all verified (resident, node-shared); empty for mapped, which reads through
  // the partition and verifies as it goes.
  std::span<const std::byte> loaded() const& noexcept;
  std::span<const std::byte> loaded() const&& = delete;

  struct Impl;
  explicit PartitionData(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// Puts `partition` where `options` say. Collective over rt's ranks (every rank calls it with the
// same options): the automatic choice is made from every rank's numbers so all agree, and
// node-shared loads need every rank of the node. Errors: Error(corrupt_data) for a bad chunk,
// Error(resource) when memory or huge pages are refused, Error(invalid_argument) for node-shared
// when the node's ranks hold partitions that neither coincide nor follow one another.
PartitionData load(Runtime& rt, Executor& ex, const Partition& partition,
                   const DataOptions& options = {});

}  // namespace strata::io

namespace strata {

// Reduces loaded data as elements of T in one parallel pass, with the chunks reduce(ex, partition,
// acc) uses, so every memory mode gives the bits of the mapped pass. Mapped data is verified as it
// is read (partition_source.hpp); loaded data was verified when it was loaded.
template <class T, Accumulator<T> A>
A reduce(Executor& ex, const io::PartitionData& data, A init) {
  const io::Partition& partition = data.partition();
  if (data.report().memory == io::DataMemory::mapped) return reduce<T>(ex, partition, init);
  partition.check_dtype(dtype_of<T>());
  const std::span<const std::byte> bytes = data.loaded();
  const std::span<const T> values(reinterpret_cast<const T*>(bytes.data()),
                                  bytes.size() / sizeof(T));
  const ChunkPlan plan =
      ChunkPlan::even(ex.topology(), values.size(),
                      io::reduce_chunk_elements(partition, ex.chunk_bytes(), sizeof(T)));
  return detail::reduce_chunks<T>(ex, plan, init, [values](std::size_t first, std::size_t n) {
    return values.subspan(first, n);
  });
}

}  // namespace strata
