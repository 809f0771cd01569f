// SPDX-License-Identifier: Apache-2.0
// Topology through hwloc: loads this system, a synthetic description or an XML file once, and
// copies what strata needs into plain structs so callers never touch hwloc objects.
#include "strata/runtime/machine/topology.hpp"

#include <hwloc.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"

namespace strata {
namespace {

// RAII for hwloc bitmaps, so an exception between alloc and free cannot leak one.
struct Bitmap {
  hwloc_bitmap_t map = hwloc_bitmap_alloc();
  Bitmap() {
    if (map == nullptr) throw Error(ErrorCategory::resource, "hwloc_bitmap_alloc failed");
  }
  ~Bitmap() { hwloc_bitmap_free(map); }
  Bitmap(const Bitmap&) = delete;
  Bitmap& operator=(const Bitmap&) = delete;
};

CpuSet to_cpu_set(hwloc_const_bitmap_t map) {
  std::vector<unsigned> cpus;
  if (map == nullptr || hwloc_bitmap_weight(map) < 0) return CpuSet{};
  unsigned cpu;
  hwloc_bitmap_foreach_begin(cpu, map) { cpus.push_back(cpu); }
  hwloc_bitmap_foreach_end();
  return CpuSet(std::move(cpus));
}

void fill_bitmap(const CpuSet& set, hwloc_bitmap_t map) {
  hwloc_bitmap_zero(map);
  for (unsigned cpu : set.cpus()) hwloc_bitmap_set(map, cpu);
}

std::string cache_kind(hwloc_obj_cache_type_t t) {
  switch (t) {
    case HWLOC_OBJ_CACHE_DATA: return "data";
    case HWLOC_OBJ_CACHE_INSTRUCTION: return "instruction";
    case HWLOC_OBJ_CACHE_UNIFIED: return "unified";
  }
  return "unified";
}

}  // namespace

struct Topology::Impl {
  hwloc_topology_t topo = nullptr;
  TopologySource source = TopologySource::this_system;
  std::string origin;
  std::vector<Package> packages;
  std::vector<NumaNode> numa_nodes;
  std::vector<CacheLevel> caches;
  unsigned cores = 0;
  unsigned pus = 0;
  CpuSet all;
  CpuSet allowed;

  ~Impl() {
    if (topo != nullptr) hwloc_topology_destroy(topo);
  }

  void collect() {
    hwloc_obj_t root = hwloc_get_root_obj(topo);
    all = to_cpu_set(root->cpuset);
    cores = static_cast<unsigned>(std::max(0, hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE)));
    pus = static_cast<unsigned>(std::max(0, hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU)));
    collect_allowed();

    int npackages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    for (int i = 0; i < npackages; ++i) {
      hwloc_obj_t p = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, static_cast<unsigned>(i));
      Package pkg;
      pkg.index = p->logical_index;
      pkg.cpus = to_cpu_set(p->cpuset);
      pkg.cores = static_cast<unsigned>(
          hwloc_get_nbobjs_inside_cpuset_by_type(topo, p->cpuset, HWLOC_OBJ_CORE));
      packages.push_back(std::move(pkg));
    }

    int nnodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    for (int i = 0; i < nnodes; ++i) {
      hwloc_obj_t n = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
      NumaNode node;
      node.index = n->logical_index;
      node.os_index = n->os_index;
      node.memory_bytes = n->attr->numanode.local_memory;
      node.cpus = to_cpu_set(n->cpuset);
      node.cores = static_cast<unsigned>(
          hwloc_get_nbobjs_inside_cpuset_by_type(topo, n->cpuset, HWLOC_OBJ_CORE));
      node.pus = static_cast<unsigned>(
          hwloc_get_nbobjs_inside_cpuset_by_type(topo, n->cpuset, HWLOC_OBJ_PU));
      if (hwloc_obj_t p = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, n)) {
        node.package = p->logical_index;
        packages[p->logical_index].numa_nodes.push_back(node.index);
      }
      numa_nodes.push_back(std::move(node));
    }

    for (hwloc_obj_type_t type :
         {HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L1ICACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L2ICACHE,
          HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L3ICACHE, HWLOC_OBJ_L4CACHE, HWLOC_OBJ_L5CACHE}) {
      int count = hwloc_get_nbobjs_by_type(topo, type);
      if (count <= 0) continue;
      hwloc_obj_t c = hwloc_get_obj_by_type(topo, type, 0);
      caches.push_back(CacheLevel{c->attr->cache.depth, cache_kind(c->attr->cache.type),
                                  c->attr->cache.size, c->attr->cache.linesize,
                                  static_cast<unsigned>(count)});
    }
  }

  void collect_allowed() {
    CpuSet machine_allowed = to_cpu_set(hwloc_topology_get_allowed_cpuset(topo));
    if (source != TopologySource::this_system || !hwloc_topology_is_thissystem(topo)) {
      allowed = machine_allowed.empty() ? all : machine_allowed;
      return;
    }
    // The process's affinity mask is what taskset, numactl or Slurm's task/affinity imposed;
    // the allowed cpuset is what a cgroup (Slurm's task/cgroup) permits.
    Bitmap bound;
    if (hwloc_get_cpubind(topo, bound.map, HWLOC_CPUBIND_PROCESS) == 0) {
      allowed = to_cpu_set(bound.map).intersect(machine_allowed);
    } else {
      allowed = machine_allowed;
    }
    if (allowed.empty()) allowed = machine_allowed;
  }
};

std::string_view to_string(TopologySource source) noexcept {
  switch (source) {
    case TopologySource::this_system: return "this_system";
    case TopologySource::synthetic: return "synthetic";
    case TopologySource::xml: return "xml";
  }
  return "unknown";
}

Topology::Topology(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Topology::Topology(Topology&&) noexcept = default;
Topology& Topology::operator=(Topology&&) noexcept = default;
Topology::~Topology() = default;

namespace {

std::unique_ptr<Topology::Impl> new_impl(TopologySource source, std::string origin) {
  auto impl = std::make_unique<Topology::Impl>();
  impl->source = source;
  impl->origin = std::move(origin);
  if (hwloc_topology_init(&impl->topo) != 0) {
    throw_system_error("hwloc_topology_init failed", errno);
  }
  // Keep disallowed CPUs in the tree so all_cpus() shows the whole machine and allowed_cpus()
  // what this process got.
  hwloc_topology_set_flags(impl->topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
  // No PCI, bridge or OS-device objects: nothing in strata places work by device locality, and
  // discovering them reads every device's PCI configuration space, a cost each start would pay.
  hwloc_topology_set_io_types_filter(impl->topo, HWLOC_TYPE_FILTER_KEEP_NONE);
  return impl;
}

void load_impl(Topology::Impl& impl) {
  if (hwloc_topology_load(impl.topo) != 0) {
    throw_system_error("hwloc_topology_load failed", errno,
                       {{"source", std::string(to_string(impl.source))}, {"origin", impl.origin}});
  }
  impl.collect();
}

}  // namespace

Topology Topology::load() {
  if (const char* synthetic_env = std::getenv("HWLOC_SYNTHETIC"); synthetic_env && *synthetic_env) {
    try {
      return synthetic(synthetic_env);
    } catch (const Error&) {
      throw Error(ErrorCategory::invalid_argument, "HWLOC_SYNTHETIC is not a valid synthetic topology",
                  {{"variable", "HWLOC_SYNTHETIC"}, {"value", synthetic_env}});
    }
  }
  if (const char* xml_env = std::getenv("HWLOC_XMLFILE"); xml_env && *xml_env) {
    return from_xml(xml_env);
  }
  auto impl = new_impl(TopologySource::this_system, "");
  load_impl(*impl);
  return Topology(std::move(impl));
}

Topology Topology::synthetic(const std::string& description) {
  auto impl = new_impl(TopologySource::synthetic, description);
  if (hwloc_topology_set_synthetic(impl->topo, description.c_str()) != 0) {
    throw Error(ErrorCategory::invalid_argument,
                "not a valid hwloc synthetic topology (example: \"pack:2 numa:1 core:2 pu:1\")",
                {{"description", description}});
  }
  load_impl(*impl);
  return Topology(std::move(impl));
}

Topology Topology::from_xml(const std::string& path) {
  auto impl = new_impl(TopologySource::xml, path);
  if (hwloc_topology_set_xml(impl->topo, path.c_str()) != 0) {
    throw Error(ErrorCategory::io, "cannot read hwloc XML topology", {{"file", path}});
  }
  load_impl(*impl);
  return Topology(std::move(impl));
}

TopologySource Topology::source() const noexcept { return impl_->source; }
bool Topology::is_this_system() const noexcept {
  return impl_->source == TopologySource::this_system && hwloc_topology_is_thissystem(impl_->topo);
}
const std::string& Topology::origin() const noexcept { return impl_->origin; }
const std::vector<Package>& Topology::packages() const noexcept { return impl_->packages; }
const std::vector<NumaNode>& Topology::numa_nodes() const noexcept { return impl_->numa_nodes; }
const std::vector<CacheLevel>& Topology::caches() const noexcept { return impl_->caches; }
unsigned Topology::core_count() const noexcept { return impl_->cores; }
unsigned Topology::pu_count() const noexcept { return impl_->pus; }
const CpuSet& Topology::all_cpus() const noexcept { return impl_->all; }
const CpuSet& Topology::allowed_cpus() const noexcept { return impl_->allowed; }
void* Topology::native_handle() const noexcept { return impl_->topo; }

int Topology::numa_node_of_cpu(unsigned cpu) const noexcept {
  for (const auto& node : impl_->numa_nodes) {
    if (node.cpus.contains(cpu)) return static_cast<int>(node.index);
  }
  return -1;
}

std::uint64_t Topology::cache_bytes(unsigned level) const noexcept {
  std::uint64_t best = 0;
  for (const auto& c : impl_->caches) {
    if (c.level == level && c.kind != "instruction") best = std::max(best, c.size_bytes);
  }
  return best;
}

bool Topology::bind_current_thread(const CpuSet& cpus) const {
  CpuSet usable = cpus.intersect(impl_->allowed);
  if (usable.empty()) {
    throw Error(ErrorCategory::invalid_argument, "no allowed CPU in the requested binding",
                {{"cpus", cpus.to_string()}, {"allowed", impl_->allowed.to_string()}});
  }
  if (!is_this_system()) {
    log::warn_once("topology-binding-skipped",
                   "thread binding skipped: the topology is " + std::string(to_string(impl_->source)) +
                       " (" + impl_->origin + "), not this machine");
    return false;
  }
  Bitmap map;
  fill_bitmap(usable, map.map);
  if (hwloc_set_cpubind(impl_->topo, map.map, HWLOC_CPUBIND_THREAD) != 0) {
    throw_system_error("cannot bind thread", errno, {{"cpus", usable.to_string()}});
  }
  return true;
}

CpuSet Topology::current_thread_binding() const {
  if (!is_this_system()) return impl_->allowed;
  Bitmap map;
  if (hwloc_get_cpubind(impl_->topo, map.map, HWLOC_CPUBIND_THREAD) != 0) {
    throw_system_error("cannot read thread binding", errno);
  }
  return to_cpu_set(map.map);
}

}  // namespace strata
