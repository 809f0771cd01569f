// SPDX-License-Identifier: Apache-2.0
// The `strata` command: CLI11 subcommands, one file each. Any error becomes one line on stderr
// and a non-zero exit: 2 for a bad command line, 1 for a failure while running.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <new>

#include "analysis_commands.hpp"
#include "checkpoint_commands.hpp"
#include "command_suggestion.hpp"
#include "dataset_commands.hpp"
#include "info_command.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/text.hpp"
#include "strata/runtime/machine/memory_availability.hpp"

int main(int argc, char** argv) {
  CLI::App app{"strata: NUMA-aware analysis and checkpoint/restart runtime", "strata"};
  app.set_version_flag("--version", STRATA_VERSION);
  app.require_subcommand(1);
  strata::cli::add_info_command(app);
  strata::cli::add_dataset_commands(app);
  strata::cli::add_analysis_commands(app);
  strata::cli::add_checkpoint_commands(app);
  if (auto unknown = strata::cli::unknown_subcommand(app, argc, argv)) {
    std::cerr << "strata: " << *unknown << '\n';
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command that already reported what it found (ckpt verify)
  } catch (const CLI::ParseError& e) {
    std::cerr << "strata: " << strata::printable(e.what()) << " (see strata --help)\n";
    return 2;
  } catch (const strata::Error& e) {
    std::cerr << "strata: error: " << strata::printable(e.what()) << '\n';  // names from files
    return 1;
  } catch (const std::bad_alloc&) {  // e.g. a thread pool starting under `ulimit -v`
    std::cerr << "strata: error: " << strata::out_of_memory_error("running the command").what()
              << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "strata: error: " << strata::printable(e.what()) << '\n';
    return 1;
  }
  return 0;
}
