// The container's side of start(): what the parent prepares before clone (so the
// child allocates and parses nothing that can fail late), the script the child
// runs, and the error pipe that carries a failure back. Internal to the runtime.
#pragma once

#include <sys/ioctl.h>

#include <optional>
#include <string>
#include <vector>

#include "runtime/capabilities.hpp"
#include "runtime/container_spec.hpp"
#include "runtime/seccomp_program.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

/// Everything the child needs, computed in the parent before clone.
struct ChildArgs {
  const ContainerSpec* spec = nullptr;
  CapabilityPlan capabilities;
  std::optional<SeccompProgram> seccomp;  // compiled; empty: unconfined
  std::vector<std::string> path_dirs;  // the container's $PATH, split
  int stdio[3] = {0, 1, 2};            // host descriptors for 0, 1, 2 (without a tty)
  int sync_fd = -1;                    // read end: the parent's "go"; -1: go at once
  int close_fds[3] = {-1, -1, -1};     // the parent's ends, closed first in the child
  int error_fd = -1;                   // write end, O_CLOEXEC: EOF at exec means success
  int terminal_fd = -1;                // socket for the pty master (spec.tty)
  std::optional<struct winsize> window;  // the pty's size before the command starts
};

/// The child after clone: runs the setup script and execs the command; never returns.
/// Any failure is written to error_fd, then _exit(127) for command_not_found, else 126.
[[noreturn]] void container_main(const ChildArgs& args) noexcept;

/// The error pipe's message: one byte of ErrorKind, then the one-line description.
void write_child_error(int fd, const std::exception& e) noexcept;
/// Reads the pipe until EOF; empty when the child exec'd. Throws the child's error.
void read_child_error(util::Fd fd);

/// pid 1 for --init: forks the command, reaps every zombie, forwards signals, and exits
/// with the command's status (128+signal for a signal death).
[[noreturn]] void run_init(const ChildArgs& args);
/// The last step: execve with the container's PATH lookup. Throws command_not_found or
/// not_executable with Docker's wording.
[[noreturn]] void exec_command(const ChildArgs& args);

}  // namespace kiln::runtime
