// SPDX-License-Identifier: Apache-2.0
// SlurmEnv: reads the SLURM_* variables a job step sees into typed fields, and expands Slurm's
// compressed host lists ("rack[1-2]-n[01-04],login") the way scontrol show hostnames does.
// Malformed values are configuration errors that name the variable.
#include "strata/runtime/cluster/slurm_env.hpp"

#include <charconv>
#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <system_error>
#include <utility>

#include "strata/runtime/base/error.hpp"

extern char** environ;  // NOLINT: POSIX declares it nowhere in the C++ headers

namespace strata {
namespace {

// Guards against a typo such as "n[0-999999999]" allocating gigabytes; far above any real job.
constexpr std::size_t max_expanded_hosts = std::size_t{1} << 20;

using environment_map = std::map<std::string, std::string>;

const std::string* find_first(const environment_map& env, std::initializer_list<const char*> names,
                              const char** found_name) {
  for (const char* name : names) {
    if (auto it = env.find(name); it != env.end()) {
      *found_name = name;
      return &it->second;
    }
  }
  return nullptr;
}

template <class T>
T parse_number(const std::string& text, const char* variable, T min_value) {
  T value{};
  const char* first = text.data();
  const char* last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(first, last, value);
  if (text.empty() || ec == std::errc::invalid_argument || end != last) {
    throw Error(ErrorCategory::config, std::string(variable) + " is not a number",
                {{"variable", variable}, {"value", text}});
  }
  if (ec == std::errc::result_out_of_range || value < min_value) {
    throw Error(ErrorCategory::config, std::string(variable) + " is out of range",
                {{"variable", variable}, {"value", text}});
  }
  return value;
}

// Reads the first of `names` that is set; leaves `out` untouched when none is.
template <class T>
void read_number(const environment_map& env, std::initializer_list<const char*> names, T& out,
                 T min_value) {
  const char* name = nullptr;
  if (const std::string* text = find_first(env, names, &name)) {
    out = parse_number<T>(*text, name, min_value);
  }
}

template <class T>
void read_number(const environment_map& env, std::initializer_list<const char*> names,
                 std::optional<T>& out, T min_value) {
  const char* name = nullptr;
  if (const std::string* text = find_first(env, names, &name)) {
    out = parse_number<T>(*text, name, min_value);
  }
}

void read_string(const environment_map& env, std::initializer_list<const char*> names,
                 std::string& out) {
  const char* name = nullptr;
  if (const std::string* text = find_first(env, names, &name)) out = *text;
}

[[noreturn]] void malformed(const std::string& hostlist, const std::string& why) {
  throw Error(ErrorCategory::config, "malformed Slurm host list: " + why, {{"hostlist", hostlist}});
}

// One comma-separated item inside brackets: "7" or "01-03".
struct number_range {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  std::size_t width = 0;  // digits of lo as written; Slurm pads every number to it
};

std::uint64_t parse_bracket_number(std::string_view digits, const std::string& hostlist) {
  if (digits.empty()) malformed(hostlist, "empty number in brackets");
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size()) {
    malformed(hostlist, "'" + std::string(digits) + "' is not a number");
  }
  return value;
}

std::vector<number_range> parse_brackets(std::string_view body, const std::string& hostlist) {
  std::vector<number_range> ranges;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = body.find(',', start);
    const std::string_view item = body.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    const std::size_t dash = item.find('-');
    number_range r;
    if (dash == std::string_view::npos) {
      r.lo = r.hi = parse_bracket_number(item, hostlist);
      r.width = item.size();
    } else {
      const std::string_view lo = item.substr(0, dash);
      r.lo = parse_bracket_number(lo, hostlist);
      r.hi = parse_bracket_number(item.substr(dash + 1), hostlist);
      r.width = lo.size();
      if (r.hi < r.lo) malformed(hostlist, "descending range '" + std::string(item) + "'");
    }
    ranges.push_back(r);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return ranges;
}

std::string padded(std::uint64_t value, std::size_t width) {
  std::string digits = std::to_string(value);
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return digits;
}

// Expands one host term ("rack[1-2]-n[01-02]"), every bracket group multiplying the names so far;
// the leftmost group varies slowest, as in Slurm.
void expand_term(std::string_view term, const std::string& hostlist,
                 std::vector<std::string>& out) {
  if (term.empty()) malformed(hostlist, "empty host name");
  std::vector<std::string> names{std::string()};
  std::size_t pos = 0;
  while (pos < term.size()) {
    const std::size_t open = term.find_first_of("[]", pos);
    if (open == std::string_view::npos) {
      for (auto& n : names) n.append(term.substr(pos));
      break;
    }
    if (term[open] == ']') malformed(hostlist, "']' without '['");
    for (auto& n : names) n.append(term.substr(pos, open - pos));
    const std::size_t close = term.find_first_of("[]", open + 1);
    if (close == std::string_view::npos || term[close] == '[') {
      malformed(hostlist, "'[' without matching ']'");
    }
    const auto ranges = parse_brackets(term.substr(open + 1, close - open - 1), hostlist);
    std::size_t count = 0;
    for (const auto& r : ranges) {
      const std::uint64_t span = r.hi - r.lo;
      count +=
          span >= max_expanded_hosts ? max_expanded_hosts + 1 : static_cast<std::size_t>(span) + 1;
    }
    if (count > max_expanded_hosts || names.size() * count > max_expanded_hosts) {
      malformed(hostlist, "expands to more than " + std::to_string(max_expanded_hosts) + " hosts");
    }
    std::vector<std::string> next;
    next.reserve(names.size() * count);
    for (const auto& n : names) {
      for (const auto& r : ranges) {
        for (std::uint64_t v = r.lo;; ++v) {
          next.push_back(n + padded(v, r.width));
          if (v == r.hi) break;
        }
      }
    }
    names = std::move(next);
    pos = close + 1;
  }
  if (out.size() + names.size() > max_expanded_hosts) {
    malformed(hostlist, "expands to more than " + std::to_string(max_expanded_hosts) + " hosts");
  }
  for (auto& n : names) out.push_back(std::move(n));
}

}  // namespace

std::vector<std::string> expand_slurm_hostlist(const std::string& hostlist) {
  std::vector<std::string> hosts;
  if (hostlist.empty()) return hosts;
  for (const char c : hostlist) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      malformed(hostlist, "whitespace in host list");
    }
  }
  // Split on commas outside brackets; commas inside belong to the bracket's number list.
  std::size_t term_start = 0;
  int depth = 0;
  for (std::size_t i = 0; i <= hostlist.size(); ++i) {
    if (i == hostlist.size() || (hostlist[i] == ',' && depth == 0)) {
      expand_term(std::string_view(hostlist).substr(term_start, i - term_start), hostlist, hosts);
      term_start = i + 1;
    } else if (hostlist[i] == '[') {
      if (++depth > 1) malformed(hostlist, "nested '['");
    } else if (hostlist[i] == ']') {
      if (--depth < 0) malformed(hostlist, "']' without '['");
    }
  }
  return hosts;
}

SlurmEnv SlurmEnv::parse(const std::map<std::string, std::string>& environment) {
  SlurmEnv env;
  const char* job_variable = nullptr;
  // SLURM_JOBID is the pre-17.11 spelling, still exported by current Slurm.
  const std::string* job_id =
      find_first(environment, {"SLURM_JOB_ID", "SLURM_JOBID"}, &job_variable);
  // Stray SLURM_* variables without a job id (a shell that inherited some) describe no job.
  if (job_id == nullptr) return env;
  env.in_job = true;
  env.job_id = parse_number<std::uint64_t>(*job_id, job_variable, 0);

  read_number(environment, {"SLURM_STEP_ID", "SLURM_STEPID"}, env.step_id, std::uint64_t{0});
  read_string(environment, {"SLURM_JOB_NAME"}, env.job_name);
  read_number(environment, {"SLURM_PROCID"}, env.proc_id, 0);
  read_number(environment, {"SLURM_LOCALID"}, env.local_id, 0);
  read_number(environment, {"SLURM_NTASKS", "SLURM_NPROCS"}, env.ntasks, 1);
  read_number(environment, {"SLURM_NODEID"}, env.node_id, 0);
  read_number(environment, {"SLURM_JOB_NUM_NODES", "SLURM_NNODES"}, env.nnodes, 1);
  read_number(environment, {"SLURM_CPUS_PER_TASK"}, env.cpus_per_task, 1);
  read_number(environment, {"SLURM_RESTART_COUNT"}, env.restart_count, 0);
  read_string(environment, {"SLURM_CPU_BIND"}, env.cpu_bind);

  const char* list_variable = nullptr;
  if (const std::string* list =
          find_first(environment, {"SLURM_JOB_NODELIST", "SLURM_NODELIST"}, &list_variable)) {
    env.node_list = *list;
    try {
      env.nodes = expand_slurm_hostlist(*list);
    } catch (const Error& e) {
      auto context = e.context();
      context.insert(context.begin(), ErrorContext{"variable", list_variable});
      throw Error(e.category(), e.message(), std::move(context));
    }
  }
  return env;
}

SlurmEnv SlurmEnv::from_environment() {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (!text.starts_with("SLURM_")) continue;
    const std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    environment.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return parse(environment);
}

}  // namespace strata
