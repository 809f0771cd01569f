// SPDX-License-Identifier: Apache-2.0
// `strata info`: each rank describes itself as JSON; rank 0 gathers the descriptions and prints
// them as JSON or renders the same data as text, so both forms always say the same thing.
#include "info_command.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "byte_size.hpp"
#include "command_rules.hpp"
#include "strata/strata.hpp"

namespace strata::cli {
namespace {

using nlohmann::json;

struct InfoOptions {
  bool json = false;
  bool memory = false;
  std::string probe;  // a size: allocate an array of it and report what the machine gave
  std::string synthetic;
};

json describe_topology(const Topology& topo) {
  json t;
  t["source"] = to_string(topo.source());
  t["this_system"] = topo.is_this_system();
  if (!topo.origin().empty()) t["origin"] = topo.origin();
  t["cores"] = topo.core_count();
  t["pus"] = topo.pu_count();
  t["cpus"] = topo.all_cpus().to_string();
  t["allowed_cpus"] = topo.allowed_cpus().to_string();
  t["packages"] = json::array();
  for (const auto& p : topo.packages()) {
    t["packages"].push_back(
        {{"index", p.index}, {"cpus", p.cpus.to_string()}, {"cores", p.cores}, {"numa_nodes", p.numa_nodes}});
  }
  t["numa_nodes"] = json::array();
  for (const auto& n : topo.numa_nodes()) {
    t["numa_nodes"].push_back({{"index", n.index},
                               {"os_index", n.os_index},
                               {"memory_bytes", n.memory_bytes},
                               {"cpus", n.cpus.to_string()},
                               {"allowed_cpus", n.cpus.intersect(topo.allowed_cpus()).to_string()},
                               {"cores", n.cores},
                               {"pus", n.pus},
                               {"package", n.package}});
  }
  t["caches"] = json::array();
  for (const auto& c : topo.caches()) {
    t["caches"].push_back({{"level", c.level},
                           {"kind", c.kind},
                           {"size_bytes", c.size_bytes},
                           {"line_bytes", c.line_bytes},
                           {"count", c.count}});
  }
  return t;
}

json describe_memory() {
  json m;
  m["base_page_bytes"] = base_page_bytes();
  m["transparent_huge_pages"] = to_string(transparent_huge_page_mode());
  m["huge_pages"] = json::array();
  for (const auto& hp : huge_page_sizes()) {
    m["huge_pages"].push_back({{"page_bytes", hp.page_bytes},
                               {"total", hp.total_pages},
                               {"free", hp.free_pages},
                               {"reserved", hp.reserved_pages},
                               {"surplus", hp.surplus_pages},
                               {"overcommit", hp.overcommit_pages}});
  }
  return m;
}

json describe_manager(const MemoryManager& mm) {
  json nodes = json::array();
  for (const auto& n : mm.statistics()) {
    json by_policy;
    for (auto p : {PlacementPolicy::local, PlacementPolicy::bind, PlacementPolicy::interleave,
                   PlacementPolicy::preferred}) {
      by_policy[std::string(to_string(p))] = n.regions_by_policy[static_cast<std::size_t>(p)];
    }
    nodes.push_back({{"bytes_in_use", n.bytes_in_use},
                     {"peak_bytes", n.peak_bytes},
                     {"hugetlb_bytes", n.hugetlb_bytes},
                     {"transparent_bytes", n.transparent_bytes},
                     {"small_bytes", n.small_bytes},
                     {"regions_by_policy", by_policy}});
  }
  auto avail = read_memory_availability();
  json a = {{"mem_total_bytes", avail.mem_total_bytes},
            {"mem_available_bytes", avail.mem_available_bytes},
            {"available_bytes", avail.available_bytes()}};
  if (avail.cgroup_limit_bytes) {
    a["cgroup"] = avail.cgroup_path;
    a["cgroup_version"] = avail.cgroup_version;
    a["cgroup_limit_bytes"] = *avail.cgroup_limit_bytes;
    a["cgroup_usage_bytes"] = avail.cgroup_usage_bytes.value_or(0);
  }
  if (avail.cgroup_high_bytes) a["cgroup_high_bytes"] = *avail.cgroup_high_bytes;
  // The level the runtime's monitor would give this reading (default thresholds).
  MemoryPressureReading reading =
      assess_memory_pressure(avail, mm.pressure().options().thresholds, std::nullopt);
  json pressure = {{"level", std::string(to_string(reading.level))}, {"reason", reading.reason}};
  auto psi = [](const MemoryPressureStall& p) {
    return json{{"some_avg10", p.some.avg10},
                {"some_avg60", p.some.avg60},
                {"full_avg10", p.full.avg10},
                {"full_avg60", p.full.avg60}};
  };
  if (avail.system_pressure) pressure["machine_psi"] = psi(*avail.system_pressure);
  if (avail.cgroup_pressure) pressure["cgroup_psi"] = psi(*avail.cgroup_pressure);
  if (avail.cgroup_events) {
    pressure["cgroup_events"] = {{"high", avail.cgroup_events->high},
                                 {"max", avail.cgroup_events->max},
                                 {"oom", avail.cgroup_events->oom},
                                 {"oom_kill", avail.cgroup_events->oom_kill}};
  }
  return {{"availability", a}, {"pressure", pressure}, {"nodes", nodes}};
}

// Allocates an array of `bytes` the way a simulation would and reports what it really got.
json describe_probe(MemoryManager& mm, std::uint64_t bytes) {
  auto array = mm.array<std::uint8_t>("probe", {bytes});
  const PlacedRegion& r = array.region();
  auto where = r.residency(64);
  auto pages = r.page_report();
  json blocks = json::array();
  for (const auto& b : array.plan().blocks()) {
    blocks.push_back({{"node", b.node}, {"first_row", b.first_row}, {"bytes", b.bytes}});
  }
  json probe = {{"bytes", bytes},
                {"page_size", to_string(r.page_size())},
                {"fallbacks", r.fallbacks()},
                {"placement_applied", r.placement_applied()},
                {"populated", r.populated()},
                {"kernel_page_bytes", pages.kernel_page_bytes},
                {"resident_bytes", pages.resident_bytes},
                {"transparent_huge_bytes", pages.transparent_huge_bytes},
                {"blocks", blocks},
                {"manager", describe_manager(mm)}};
  if (where.known) {
    probe["residency"] = {{"sampled", where.sampled},
                          {"not_present", where.not_present},
                          {"pages_per_node", where.pages_per_node}};
  }
  return probe;
}

json describe_simd() {
  auto t = kernels::simd_targets();
  return {{"compiled", t.compiled}, {"supported", t.supported}, {"dispatched", t.dispatched}};
}

json describe_mpi(const MpiContext& mpi) {
  static constexpr const char* levels[] = {"single", "funneled", "serialized", "multiple"};
  return {{"started", mpi.uses_mpi()},
          {"rank", mpi.rank()},
          {"size", mpi.size()},
          {"local_rank", mpi.local_rank()},
          {"local_size", mpi.local_size()},
          {"node_count", mpi.node_count()},
          {"node_index", mpi.node_index()},
          {"host", mpi.processor_name()},
          {"thread_level", levels[static_cast<int>(mpi.thread_level())]},
          {"library", mpi.library_version()}};
}

json describe_slurm(const SlurmEnv& s) {
  if (!s.in_job) return {{"in_job", false}};
  json j = {{"in_job", true},           {"job_id", s.job_id},     {"job_name", s.job_name},
            {"proc_id", s.proc_id},     {"local_id", s.local_id}, {"ntasks", s.ntasks},
            {"node_id", s.node_id},     {"nnodes", s.nnodes},     {"node_list", s.node_list},
            {"nodes", s.nodes},         {"restart_count", s.restart_count}};
  if (s.step_id) j["step_id"] = *s.step_id;
  if (s.cpus_per_task) j["cpus_per_task"] = *s.cpus_per_task;
  if (!s.cpu_bind.empty()) j["cpu_bind"] = s.cpu_bind;
  return j;
}

json describe_rank(Runtime& rt, const InfoOptions& options) {
  json rank = {{"mpi", describe_mpi(rt.mpi())},
               {"slurm", describe_slurm(rt.slurm())},
               {"topology", describe_topology(rt.topology())},
               {"memory", describe_memory()},
               {"simd", describe_simd()}};
  if (options.memory || !options.probe.empty()) rank["memory"]["manager"] = describe_manager(rt.memory());
  if (!options.probe.empty()) {
    rank["memory"]["probe"] = describe_probe(rt.memory(), parse_byte_size(options.probe));
  }
  return rank;
}

std::string join(const json& array) {
  std::string out;
  for (const auto& v : array) {
    if (!out.empty()) out += ' ';
    out += v.get<std::string>();
  }
  return out;
}

void print_manager(const json& manager, std::ostream& out) {
  const json& a = manager["availability"];
  out << "  available  " << format_bytes(a["available_bytes"]) << " (MemAvailable "
      << format_bytes(a["mem_available_bytes"]) << " of " << format_bytes(a["mem_total_bytes"]);
  if (a.contains("cgroup")) {
    out << "; cgroup v" << a["cgroup_version"] << ' ' << a["cgroup"].get<std::string>() << " limit "
        << format_bytes(a["cgroup_limit_bytes"]);
  }
  out << ")\n";
  const json& p = manager["pressure"];
  out << "  pressure   " << p["level"].get<std::string>();
  if (!p["reason"].get<std::string>().empty()) out << " (" << p["reason"].get<std::string>() << ")";
  char psi[96];
  for (const char* where : {"machine_psi", "cgroup_psi"}) {
    if (!p.contains(where)) continue;
    std::snprintf(psi, sizeof psi, "; %s PSI some %.1f %% full %.1f %% (10 s)",
                  where[0] == 'm' ? "machine" : "cgroup", p[where]["some_avg10"].get<double>(),
                  p[where]["full_avg10"].get<double>());
    out << psi;
  }
  if (p.contains("cgroup_events")) {
    out << "; cgroup events max " << p["cgroup_events"]["max"] << " oom_kill "
        << p["cgroup_events"]["oom_kill"];
  }
  out << '\n';
  for (std::size_t i = 0; i < manager["nodes"].size(); ++i) {
    const json& n = manager["nodes"][i];
    out << "  strata on node " << i << ": " << format_bytes(n["bytes_in_use"]) << " in use (peak "
        << format_bytes(n["peak_bytes"]) << "), hugetlb " << format_bytes(n["hugetlb_bytes"])
        << ", THP " << format_bytes(n["transparent_bytes"]) << ", small "
        << format_bytes(n["small_bytes"]) << '\n';
  }
}

void print_text(const json& rank, std::ostream& out) {
  const json& mpi = rank["mpi"];
  const json& topo = rank["topology"];
  out << "rank " << mpi["rank"] << " of " << mpi["size"] << " on " << mpi["host"].get<std::string>()
      << " (local rank " << mpi["local_rank"] << " of " << mpi["local_size"] << ", node "
      << mpi["node_index"] << " of " << mpi["node_count"] << ")\n";
  out << "  MPI        " << mpi["library"].get<std::string>().substr(0, 60);
  if (mpi["started"].get<bool>()) {
    out << ", thread level " << mpi["thread_level"].get<std::string>() << '\n';
  } else {
    out << ", not started (no launcher; STRATA_MPI=always starts it)\n";
  }
  out << "  topology   " << topo["source"].get<std::string>();
  if (topo.contains("origin")) out << " \"" << topo["origin"].get<std::string>() << '"';
  if (!topo["this_system"].get<bool>()) out << " (binding is not real)";
  out << ": " << topo["packages"].size() << " package(s), " << topo["numa_nodes"].size()
      << " NUMA node(s), " << topo["cores"] << " cores, " << topo["pus"] << " PUs\n";
  out << "  CPUs       " << topo["cpus"].get<std::string>() << ", allowed to this process "
      << topo["allowed_cpus"].get<std::string>() << '\n';
  for (const auto& n : topo["numa_nodes"]) {
    out << "  NUMA node " << n["index"] << " (os " << n["os_index"] << ", package " << n["package"]
        << "): " << format_bytes(n["memory_bytes"]) << ", " << n["cores"] << " cores, " << n["pus"]
        << " PUs, CPUs " << n["cpus"].get<std::string>() << '\n';
  }
  out << "  caches    ";
  for (const auto& c : topo["caches"]) {
    out << " L" << c["level"] << (c["kind"] == "instruction" ? "i" : (c["kind"] == "data" ? "d" : ""))
        << ' ' << format_bytes(c["size_bytes"]) << " x" << c["count"];
  }
  out << '\n';
  const json& mem = rank["memory"];
  out << "  pages      base " << format_bytes(mem["base_page_bytes"]) << ", THP "
      << mem["transparent_huge_pages"].get<std::string>();
  for (const auto& hp : mem["huge_pages"]) {
    out << ", " << format_bytes(hp["page_bytes"]) << " hugetlb " << hp["free"] << " free of "
        << hp["total"];
  }
  out << '\n';
  if (mem.contains("manager")) print_manager(mem["manager"], out);
  if (mem.contains("probe")) {
    const json& p = mem["probe"];
    out << "  probe      " << format_bytes(p["bytes"]) << " array: "
        << p["page_size"].get<std::string>() << " pages (kernel page " << format_bytes(p["kernel_page_bytes"])
        << "), " << format_bytes(p["resident_bytes"]) << " resident, "
        << format_bytes(p["transparent_huge_bytes"]) << " in THP, placement "
        << (p["placement_applied"].get<bool>() ? "applied" : "not applied (synthetic)") << '\n';
    for (const auto& f : p["fallbacks"]) out << "             fell back: " << f.get<std::string>() << '\n';
    if (p.contains("residency")) {
      out << "             sampled pages per node:";
      for (const auto& n : p["residency"]["pages_per_node"]) out << ' ' << n;
      out << " (" << p["residency"]["not_present"] << " not present)\n";
    }
    print_manager(p["manager"], out);
  }
  const json& simd = rank["simd"];
  out << "  SIMD       dispatches to " << simd["dispatched"].get<std::string>() << " (CPU supports "
      << join(simd["supported"]) << "; compiled " << join(simd["compiled"]) << ")\n";
  const json& slurm = rank["slurm"];
  if (slurm["in_job"].get<bool>()) {
    out << "  Slurm      job " << slurm["job_id"] << " task " << slurm["proc_id"] << " of "
        << slurm["ntasks"] << " on " << slurm["node_list"].get<std::string>() << ", restart "
        << slurm["restart_count"];
    if (slurm.contains("cpus_per_task")) out << ", " << slurm["cpus_per_task"] << " CPUs per task";
    out << '\n';
  } else {
    out << "  Slurm      not in a Slurm job\n";
  }
}

void run_info(const InfoOptions& options) {
  RuntimeOptions runtime_options;
  runtime_options.install_stop_signals = false;
  if (!options.synthetic.empty()) runtime_options.synthetic_topology = options.synthetic;
  Runtime rt(runtime_options);
  std::vector<std::string> ranks = rt.mpi().gather(json_text(describe_rank(rt, options)), 0);
  if (rt.rank() != 0) return;
  json report = {{"strata_version", STRATA_VERSION}, {"ranks", json::array()}};
  for (const auto& r : ranks) report["ranks"].push_back(json::parse(r));
  if (options.json) {
    std::cout << json_text(report) << '\n';
    return;
  }
  std::cout << "strata " << STRATA_VERSION << '\n';
  for (const auto& r : report["ranks"]) print_text(r, std::cout);
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Show the machine and job as strata sees them");
  cmd->add_flag("--json", options->json, "Print JSON for scripts instead of text");
  cmd->add_flag(
      "--memory", options->memory,
      "Also show available memory (MemAvailable, cgroup limit), the memory-pressure level "
      "(PSI, cgroup events) and strata's per-node use");
  cmd->add_option("--probe", options->probe,
                  "Allocate an array of this size (e.g. 1G) as a simulation would and report the "
                  "pages, placement and fallbacks it really got");
  cmd->add_option("--synthetic", options->synthetic,
                  "Describe a synthetic hwloc topology instead of this machine, e.g. "
                  "\"pack:2 numa:1 core:2 pu:1\"");
  cmd->callback([options] { run_info(*options); });
}

}  // namespace strata::cli
