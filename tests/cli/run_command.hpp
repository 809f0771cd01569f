// SPDX-License-Identifier: Apache-2.0
// Runs a shell command line for the CLI tests and captures its exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace strata::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `command` through /bin/sh; stdout and stderr go to temporary files that are read back.
inline CommandResult run_command(const std::string& command) {
  static int counter = 0;
  std::string base = "/tmp/strata-cli-test-" + std::to_string(getpid()) + "-" +
                     std::to_string(counter++);
  std::string full = command + " >" + base + ".out 2>" + base + ".err";
  int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

inline int count_lines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

}  // namespace strata::test
