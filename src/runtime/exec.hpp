// `kiln exec`: a new process in a running container. kiln joins the container's
// namespaces through /proc/<init pid>/ns (the user namespace first: that is where
// kiln's rights over the others come from), forks so the pid namespace applies,
// enters the container's root, and sets up the process as the container's own
// (user, capabilities, seccomp from the spec of its start), then execs. Must run in
// the host's user namespace (not inside userns::enter()): a sibling user namespace
// has no rights over the container's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/container_record.hpp"

namespace kiln::runtime {

struct ExecOptions {
  std::vector<std::string> args;      ///< the command; args[0] looked up in the container's $PATH
  std::vector<std::string> env;       ///< "KEY=value", over the container's environment
  std::optional<std::string> user;    ///< USER spec resolved in the container; else its user
  std::optional<std::string> workdir; ///< else the container's working directory
  bool tty = false;                   ///< a pty from the container's devpts
  bool interactive = false;           ///< keep stdin (else /dev/null)
  bool detach = false;                ///< return once the command was exec'd
};

/// The process's environment: the container's, with overrides replacing entries by key,
/// TERM=xterm added for a tty when unset. Pure.
std::vector<std::string> exec_environment(const std::vector<std::string>& base,
                                          const std::vector<std::string>& overrides, bool tty);

/// Runs options.args in the running container of record. Returns the command's exit
/// status (Docker's: 128+signal), or 0 once it was exec'd with detach. Throws conflict
/// "container X is not running", command_not_found / not_executable (127 / 126), or the
/// step that failed. Signals (TERM INT HUP QUIT USR1 USR2) are forwarded to the process.
int exec_in_container(const store::ContainerRecord& record, const ExecOptions& options);

}  // namespace kiln::runtime
