// SPDX-License-Identifier: Apache-2.0
// SlurmEnv: what Slurm told this process through its environment (job, step, task ids, CPUs per
// task, node list, restart count). Read once by the Runtime; parsed from a plain map so it can be
// tested on a prepared environment.
//
//   auto slurm = strata::SlurmEnv::from_environment();
//   if (slurm.in_job) log << "job " << slurm.job_id << " restart " << slurm.restart_count;
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace strata {

struct SlurmEnv {
  bool in_job = false;               // SLURM_JOB_ID is set
  std::uint64_t job_id = 0;          // SLURM_JOB_ID
  std::optional<std::uint64_t> step_id;  // SLURM_STEP_ID (absent in the batch script itself)
  std::string job_name;              // SLURM_JOB_NAME
  int proc_id = 0;                   // SLURM_PROCID: global task rank
  int local_id = 0;                  // SLURM_LOCALID: task rank on this node
  int ntasks = 1;                    // SLURM_NTASKS (or SLURM_NPROCS)
  int node_id = 0;                   // SLURM_NODEID
  int nnodes = 1;                    // SLURM_JOB_NUM_NODES (or SLURM_NNODES)
  std::optional<int> cpus_per_task;  // SLURM_CPUS_PER_TASK
  std::string node_list;             // SLURM_JOB_NODELIST, as given: "node[01-03,07]"
  std::vector<std::string> nodes;    // node_list expanded: node01 node02 node03 node07
  int restart_count = 0;             // SLURM_RESTART_COUNT (0 on the first run)
  std::string cpu_bind;              // SLURM_CPU_BIND (e.g. "quiet,cores"), informational

  // Parses from the process environment. Without SLURM_JOB_ID every field keeps its default.
  // Throws Error(config) with context {"variable", NAME} when a value that must be a number is
  // not one or is out of range (negative ids, zero tasks or nodes), or the node list is malformed.
  static SlurmEnv from_environment();
  // Parses from a map of variable name to value; the testable core of from_environment().
  static SlurmEnv parse(const std::map<std::string, std::string>& environment);
};

// Expands a Slurm host list: "n[1-3],gpu[07,09-10],login" -> n1 n2 n3 gpu07 gpu09 gpu10 login.
// Zero padding of ranges is kept. Throws Error(config) on malformed lists.
std::vector<std::string> expand_slurm_hostlist(const std::string& hostlist);

}  // namespace strata
