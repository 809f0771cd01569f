// SPDX-License-Identifier: Apache-2.0
// Tests for the Runtime's side of stop-and-requeue: exit_for_requeue() returns kExitRequeue (75)
// and says so in the job log, the lead-time advice warns once when STRATA_SIGNAL_LEAD_SECONDS is
// shorter than the job's measured steps and checkpoints need, and a malformed value is a config error.
//
// MPI starts once per process, so every Runtime here lives in a death-test child (the
// "threadsafe" style re-executes this binary for the one test), never in the runner itself.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <thread>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/cluster/runtime.hpp"

namespace {

using strata::Error;
using strata::ErrorCategory;
using strata::Runtime;

// Sets the environment of a child that is about to construct a Runtime: outside any Slurm job,
// the runtime's log at warn, and the given lead time (unset when null).
void prepare_child_environment(const char* lead_seconds) {
  for (const char* variable : {"SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_RESTART_COUNT"}) {
    unsetenv(variable);
  }
  setenv("STRATA_LOG", "warn", 1);
  if (lead_seconds != nullptr) {
    setenv("STRATA_SIGNAL_LEAD_SECONDS", lead_seconds, 1);
  } else {
    unsetenv("STRATA_SIGNAL_LEAD_SECONDS");
  }
}

class RequeueTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// exit_for_requeue() returns 75, the code simulation.sbatch requeues on, and logs why.
TEST_F(RequeueTest, ExitForRequeueReturnsSeventyFiveAndSaysSo) {
  static_assert(strata::kExitRequeue == 75, "slurm/simulation.sbatch and docs/slurm.md use 75");
  EXPECT_EXIT(
      {
        prepare_child_environment(nullptr);
        int code = 0;
        {
          Runtime rt;
          code = rt.exit_for_requeue();
        }
        std::exit(code);
      },
      ::testing::ExitedWithCode(75), "stopping for requeue \\(exit code 75\\)");
}

// What rt.note_checkpoint_seconds() writes to stderr for each of `seconds` (startup messages of
// the Runtime, e.g. about huge pages, are not included).
std::string advice_for(Runtime& rt, std::initializer_list<double> seconds) {
  ::testing::internal::CaptureStderr();
  for (double s : seconds) rt.note_checkpoint_seconds(s);
  return ::testing::internal::GetCapturedStderr();
}

// A lead time shorter than the measured need, 1.5 x (2 x the slowest checkpoint) + 1 s here (no
// step polled), draws one warning naming the lead time to ask for; later checkpoints do not
// repeat it.
TEST_F(RequeueTest, ShortLeadTimeWarnsOnceWithTheLeadToAskFor) {
  EXPECT_EXIT(
      {
        prepare_child_environment("20");
        int code = 0;
        {
          Runtime rt;
          // 1 s needs 4 s: 20 s is enough. 10 s needs 31 s: warn. 20 s: said once is enough.
          const std::string enough = advice_for(rt, {1.0});
          const double needed_after_one_second = rt.lead_seconds_needed();
          const std::string advice = advice_for(rt, {10.0, 20.0});
          std::fprintf(stderr, "after 1 s: [%s] needed %g\nafter 10 s, 20 s: [%s]\n",
                       enough.c_str(), needed_after_one_second, advice.c_str());
          const std::string expected =
              "(STRATA_SIGNAL_LEAD_SECONDS=20 s) is shorter than this job needs to stop cleanly "
              "(steps of up to 0 s, checkpoints of up to 10 s)";
          if (!enough.empty() || needed_after_one_second != 4.0) code = 3;
          if (advice.find(expected) == std::string::npos) code = 4;
          if (advice.find("ask for --signal=B:USR1@31 or more") == std::string::npos) code = 5;
          if (advice.find('\n') != advice.size() - 1) code = 6;  // one line: warned once
          if (rt.last_checkpoint_seconds() != 20.0) code = 7;
        }
        std::exit(code);
      },
      ::testing::ExitedWithCode(0), "");
}

// A checkpoint of 0.005 s (a small simulation's) needs about a second of lead time: a 20 s lead,
// which the old fixed 30 s margin called too short, draws no warning.
TEST_F(RequeueTest, FastCheckpointNeedsOnlyAShortLead) {
  EXPECT_EXIT(
      {
        prepare_child_environment("20");
        std::string advice;
        double needed = 0;
        {
          Runtime rt;
          advice = advice_for(rt, {0.005, 0.004});
          needed = rt.lead_seconds_needed();
        }
        std::fprintf(stderr, "advice: [%s] needed %g\n", advice.c_str(), needed);
        std::exit(advice.empty() && needed < 2 ? 0 : 3);
      },
      ::testing::ExitedWithCode(0), "");
}

// The step in flight counts: the time between two stop_requested_anywhere() polls (at least the
// 300 ms slept here) enters the need, so a lead time of 1.2 s is too short for it.
TEST_F(RequeueTest, MeasuredStepTimeEntersTheLeadNeeded) {
  EXPECT_EXIT(
      {
        prepare_child_environment("1.2");
        std::string advice;
        double needed = 0;
        {
          Runtime rt;
          (void)rt.stop_requested_anywhere();
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
          (void)rt.stop_requested_anywhere();
          needed = rt.lead_seconds_needed();
          advice = advice_for(rt, {0.001});
        }
        std::fprintf(stderr, "advice: [%s] needed %g\n", advice.c_str(), needed);
        // 1.5 x (0.3 + 0.002) + 1 = 1.453 at least.
        if (needed < 1.45) std::exit(3);
        std::exit(advice.find("steps of up to 0.3") != std::string::npos ? 0 : 4);
      },
      ::testing::ExitedWithCode(0), "");
}

// Without STRATA_SIGNAL_LEAD_SECONDS (not under simulation.sbatch) there is nothing to compare, so
// even a slow checkpoint draws no warning; a long enough lead time draws none either.
TEST_F(RequeueTest, NoWarningWithoutOrWithEnoughLeadTime) {
  for (const char* lead : {static_cast<const char*>(nullptr), "301"}) {
    EXPECT_EXIT(
        {
          prepare_child_environment(lead);
          std::string advice;
          {
            Runtime rt;
            advice = advice_for(rt, {100.0});  // needs 1.5 x 200 + 1 = 301 s
          }
          std::fprintf(stderr, "advice: [%s]\n", advice.c_str());
          std::exit(advice.empty() ? 0 : 3);
        },
        ::testing::ExitedWithCode(0), "")
        << "STRATA_SIGNAL_LEAD_SECONDS=" << (lead ? lead : "(unset)");
  }
}

// A lead time that is not a non-negative number of seconds stops the Runtime with Error(config)
// naming the variable and the value.
TEST_F(RequeueTest, MalformedLeadTimeIsAConfigError) {
  for (const char* lead : {"5m", "-1", "abc", "nan", "1e999"}) {
    EXPECT_EXIT(
        {
          prepare_child_environment(lead);
          try {
            Runtime rt;
          } catch (const Error& e) {
            std::fprintf(stderr, "category=%s variable=%s value=%s\n",
                         std::string(strata::to_string(e.category())).c_str(),
                         std::string(e.context_value("variable")).c_str(),
                         std::string(e.context_value("value")).c_str());
            std::exit(e.category() == ErrorCategory::config ? 0 : 5);
          }
          std::exit(6);
        },
        ::testing::ExitedWithCode(0),
        "category=config variable=STRATA_SIGNAL_LEAD_SECONDS value=" + std::string(lead))
        << "STRATA_SIGNAL_LEAD_SECONDS=" << lead;
  }
}

}  // namespace
