// SPDX-License-Identifier: Apache-2.0
// Tests for SlurmEnv::parse on prepared environments (as a batch script and a task of `srun` see
// them) and for the Slurm host list expander, including the malformed lists it must refuse.
#include "strata/runtime/cluster/slurm_env.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::Error;
using strata::ErrorCategory;
using strata::expand_slurm_hostlist;
using strata::SlurmEnv;
using hosts = std::vector<std::string>;

// What task 5 of `srun -N2 -n8 -c4` inside a requeued job sees (values from a real job).
std::map<std::string, std::string> full_job_environment() {
  return {
      {"SLURM_JOB_ID", "4242"},
      {"SLURM_STEP_ID", "3"},
      {"SLURM_JOB_NAME", "heat-sim"},
      {"SLURM_PROCID", "5"},
      {"SLURM_LOCALID", "1"},
      {"SLURM_NTASKS", "8"},
      {"SLURM_NODEID", "1"},
      {"SLURM_JOB_NUM_NODES", "2"},
      {"SLURM_CPUS_PER_TASK", "4"},
      {"SLURM_JOB_NODELIST", "cn[07-08]"},
      {"SLURM_RESTART_COUNT", "2"},
      {"SLURM_CPU_BIND", "quiet,cores"},
      {"HOME", "/home/u"},
  };
}

// Returns the config error parse() throws for `environment`, failing the test if none is thrown.
Error parse_error(const std::map<std::string, std::string>& environment) {
  try {
    SlurmEnv::parse(environment);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "parse() accepted a malformed environment";
  return Error(ErrorCategory::system, "no error");
}

// Every field is read from its variable in a full job environment.
TEST(SlurmEnv, ParsesFullJobEnvironment) {
  const SlurmEnv env = SlurmEnv::parse(full_job_environment());
  EXPECT_TRUE(env.in_job);
  EXPECT_EQ(env.job_id, 4242u);
  ASSERT_TRUE(env.step_id.has_value());
  EXPECT_EQ(*env.step_id, 3u);
  EXPECT_EQ(env.job_name, "heat-sim");
  EXPECT_EQ(env.proc_id, 5);
  EXPECT_EQ(env.local_id, 1);
  EXPECT_EQ(env.ntasks, 8);
  EXPECT_EQ(env.node_id, 1);
  EXPECT_EQ(env.nnodes, 2);
  ASSERT_TRUE(env.cpus_per_task.has_value());
  EXPECT_EQ(*env.cpus_per_task, 4);
  EXPECT_EQ(env.node_list, "cn[07-08]");
  EXPECT_EQ(env.nodes, (hosts{"cn07", "cn08"}));
  EXPECT_EQ(env.restart_count, 2);
  EXPECT_EQ(env.cpu_bind, "quiet,cores");
}

// Outside Slurm every field keeps the one-rank default, even if stray SLURM_* variables exist.
TEST(SlurmEnv, NoJobGivesDefaults) {
  for (const auto& environment :
       {std::map<std::string, std::string>{},
        std::map<std::string, std::string>{{"SLURM_NTASKS", "16"}, {"PATH", "/usr/bin"}}}) {
    const SlurmEnv env = SlurmEnv::parse(environment);
    EXPECT_FALSE(env.in_job);
    EXPECT_EQ(env.job_id, 0u);
    EXPECT_FALSE(env.step_id.has_value());
    EXPECT_EQ(env.proc_id, 0);
    EXPECT_EQ(env.ntasks, 1);
    EXPECT_EQ(env.nnodes, 1);
    EXPECT_FALSE(env.cpus_per_task.has_value());
    EXPECT_TRUE(env.nodes.empty());
    EXPECT_EQ(env.restart_count, 0);
  }
}

// A batch script has no step id and no CPUS_PER_TASK unless -c was given; those stay absent.
TEST(SlurmEnv, BatchScriptLeavesOptionalFieldsAbsent) {
  const SlurmEnv env = SlurmEnv::parse(
      {{"SLURM_JOB_ID", "77"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_NODELIST", "login1"}});
  EXPECT_TRUE(env.in_job);
  EXPECT_EQ(env.job_id, 77u);
  EXPECT_FALSE(env.step_id.has_value());
  EXPECT_FALSE(env.cpus_per_task.has_value());
  EXPECT_EQ(env.restart_count, 0);
  EXPECT_EQ(env.nodes, (hosts{"login1"}));
}

// The older SLURM_NPROCS, SLURM_NNODES and SLURM_NODELIST are used when the new names are absent,
// and the new names win when both are present.
TEST(SlurmEnv, FallsBackToOlderVariableNames) {
  const SlurmEnv old_only = SlurmEnv::parse({{"SLURM_JOB_ID", "1"},
                                             {"SLURM_NPROCS", "12"},
                                             {"SLURM_NNODES", "3"},
                                             {"SLURM_NODELIST", "n[1-3]"}});
  EXPECT_EQ(old_only.ntasks, 12);
  EXPECT_EQ(old_only.nnodes, 3);
  EXPECT_EQ(old_only.nodes, (hosts{"n1", "n2", "n3"}));

  const SlurmEnv both =
      SlurmEnv::parse({{"SLURM_JOB_ID", "1"}, {"SLURM_NTASKS", "6"}, {"SLURM_NPROCS", "12"}});
  EXPECT_EQ(both.ntasks, 6);
}

// A value that must be a number but is not gives Error(config) naming the variable.
TEST(SlurmEnv, BadNumberNamesTheVariable) {
  struct bad_case {
    const char* variable;
    const char* value;
  };
  for (const bad_case c : {bad_case{"SLURM_NTASKS", "eight"}, bad_case{"SLURM_PROCID", "3x"},
                           bad_case{"SLURM_CPUS_PER_TASK", ""}, bad_case{"SLURM_JOB_ID", "-5"},
                           bad_case{"SLURM_RESTART_COUNT", "99999999999999999999"},
                           bad_case{"SLURM_NTASKS", "0"}, bad_case{"SLURM_LOCALID", "-1"}}) {
    SCOPED_TRACE(std::string(c.variable) + "=" + c.value);
    auto environment = full_job_environment();
    environment[c.variable] = c.value;
    const Error e = parse_error(environment);
    EXPECT_EQ(e.category(), ErrorCategory::config);
    EXPECT_EQ(e.context_value("variable"), c.variable);
    EXPECT_EQ(e.context_value("value"), c.value);
  }
}

// A malformed node list is a config error that names SLURM_JOB_NODELIST and the list.
TEST(SlurmEnv, BadNodeListNamesTheVariable) {
  auto environment = full_job_environment();
  environment["SLURM_JOB_NODELIST"] = "cn[07-";
  const Error e = parse_error(environment);
  EXPECT_EQ(e.category(), ErrorCategory::config);
  EXPECT_EQ(e.context_value("variable"), "SLURM_JOB_NODELIST");
  EXPECT_EQ(e.context_value("hostlist"), "cn[07-");
}

// Sets environment variables for one scope and puts the previous values back afterwards, so the
// test also works inside a real Slurm job and leaves the process environment as it found it.
class scoped_environment {
 public:
  explicit scoped_environment(const std::map<std::string, std::string>& values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name.c_str());
      saved_.push_back({name, old != nullptr, old != nullptr ? old : ""});
      setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~scoped_environment() {
    for (const auto& s : saved_) {
      if (s.was_set) {
        setenv(s.name.c_str(), s.value.c_str(), 1);
      } else {
        unsetenv(s.name.c_str());
      }
    }
  }
  scoped_environment(const scoped_environment&) = delete;
  scoped_environment& operator=(const scoped_environment&) = delete;

 private:
  struct saved_variable {
    std::string name;
    bool was_set;
    std::string value;
  };
  std::vector<saved_variable> saved_;
};

// from_environment() reads the real process environment: SLURM_* variables set with setenv()
// come back parsed, and a bad one is reported by name.
TEST(SlurmEnv, FromEnvironmentReadsProcessEnvironment) {
  {
    const scoped_environment env({{"SLURM_JOB_ID", "9001"},
                                  {"SLURM_NTASKS", "3"},
                                  {"SLURM_JOB_NODELIST", "x[1,3]"},
                                  {"SLURM_RESTART_COUNT", "4"}});
    const SlurmEnv slurm = SlurmEnv::from_environment();
    EXPECT_TRUE(slurm.in_job);
    EXPECT_EQ(slurm.job_id, 9001u);
    EXPECT_EQ(slurm.ntasks, 3);
    EXPECT_EQ(slurm.nodes, (hosts{"x1", "x3"}));
    EXPECT_EQ(slurm.restart_count, 4);
  }
  const scoped_environment env({{"SLURM_JOB_ID", "9001"}, {"SLURM_NODEID", "one"}});
  try {
    SlurmEnv::from_environment();
    ADD_FAILURE() << "SLURM_NODEID=one was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::config);
    EXPECT_EQ(e.context_value("variable"), "SLURM_NODEID");
  }
}

// Names without brackets pass through, in order, and an empty list is no hosts.
TEST(SlurmHostlist, PlainNames) {
  EXPECT_EQ(expand_slurm_hostlist(""), hosts{});
  EXPECT_EQ(expand_slurm_hostlist("login"), (hosts{"login"}));
  EXPECT_EQ(expand_slurm_hostlist("b,a,c-1"), (hosts{"b", "a", "c-1"}));
}

// A bracket range expands in order; the lower bound's width sets the zero padding.
TEST(SlurmHostlist, RangesKeepZeroPadding) {
  EXPECT_EQ(expand_slurm_hostlist("n[1-3]"), (hosts{"n1", "n2", "n3"}));
  EXPECT_EQ(expand_slurm_hostlist("n[08-11]"), (hosts{"n08", "n09", "n10", "n11"}));
  EXPECT_EQ(expand_slurm_hostlist("n[098-101]"), (hosts{"n098", "n099", "n100", "n101"}));
  EXPECT_EQ(expand_slurm_hostlist("n[9-11]"), (hosts{"n9", "n10", "n11"}));
  EXPECT_EQ(expand_slurm_hostlist("n[007]"), (hosts{"n007"}));
}

// Commas inside brackets list numbers and ranges; commas outside separate host terms.
TEST(SlurmHostlist, CommaListsInsideAndOutsideBrackets) {
  EXPECT_EQ(expand_slurm_hostlist("n[1-3],gpu[07,09-10],login"),
            (hosts{"n1", "n2", "n3", "gpu07", "gpu09", "gpu10", "login"}));
  EXPECT_EQ(expand_slurm_hostlist("a[5,1,3]"), (hosts{"a5", "a1", "a3"}));
}

// Text after a bracket group is kept, and several groups expand leftmost-slowest.
TEST(SlurmHostlist, SuffixesAndSeveralBracketGroups) {
  EXPECT_EQ(expand_slurm_hostlist("rack[1-2]-n"), (hosts{"rack1-n", "rack2-n"}));
  EXPECT_EQ(expand_slurm_hostlist("rack[1-2]-n[01-02].ib"),
            (hosts{"rack1-n01.ib", "rack1-n02.ib", "rack2-n01.ib", "rack2-n02.ib"}));
  EXPECT_EQ(expand_slurm_hostlist("[3-4]x"), (hosts{"3x", "4x"}));
}

// Malformed lists are refused with Error(config) carrying the list, never expanded partially.
TEST(SlurmHostlist, MalformedListsAreConfigErrors) {
  for (const char* bad :
       {"n[1-3", "n1-3]", "n[]", "n[1,,2]", "n[a-b]", "n[3-1]", "n[1-2-3]", "n[[1]]", "n[1-]",
        "n[-1]", "a,,b", "a,", ",a", "n[1-2] m", "n[0-99999999999]", "n[1-99999999999999999999]"}) {
    SCOPED_TRACE(bad);
    try {
      const auto expanded = expand_slurm_hostlist(bad);
      ADD_FAILURE() << "accepted, giving " << expanded.size() << " hosts";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::config);
      EXPECT_EQ(e.context_value("hostlist"), bad);
    }
  }
}

}  // namespace
