// `kiln unshare [CMD [ARG...]]`: a shell or command inside kiln's user and mount
// namespace, as podman unshare: for looking at the store with the ids kiln sees
// (files owned by 1..N are reachable) and for scripts that must run "as root" there.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cli/command.hpp"
#include "cli/context.hpp"
#include "userns/userns.hpp"
#include "util/error.hpp"

namespace kiln::cli {
namespace {

// The command as the shell would find it: a name with a slash as is, else the first
// executable regular file of that name in $PATH. Throws command_not_found.
std::string find_command_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::string found = userns::find_program(name);
  if (found.empty()) fail(ErrorKind::command_not_found, "unshare: {}: command not found", name);
  return found;
}

int run_unshare(const Args& args) {
  // The dispatcher has entered the namespace already (needs_userns).
  Context ctx = Context::resolve(args.global());
  std::vector<std::string> command = args.positional();
  if (command.empty()) {
    const char* shell = std::getenv("SHELL");
    command.push_back(shell && *shell ? shell : "/bin/sh");
  }
  ::setenv("KILN_ROOT", ctx.root.c_str(), 1);
  ::setenv("KILN_RUNROOT", ctx.runroot.c_str(), 1);

  std::string path = find_command_path(command[0]);
  std::vector<char*> argv;
  for (auto& word : command) argv.push_back(word.data());
  argv.push_back(nullptr);
  // Replacing kiln keeps signals, the terminal and the exit code the command's own.
  ::execv(path.c_str(), argv.data());
  int code = errno;
  if (code == ENOENT || code == ENOTDIR)
    fail(ErrorKind::command_not_found, "unshare: {}: command not found", command[0]);
  fail(ErrorKind::not_executable, "unshare: {}: cannot execute: {}", command[0], std::strerror(code));
}

const Registration kUnshare{{"unshare"}, [] {
  return Command{
      .name = "unshare",
      .usage_args = "[COMMAND [ARG...]]",
      .summary = "Run a command inside kiln's user namespace",
      .description = "Runs COMMAND (default $SHELL) in the user and mount namespace kiln uses for its "
                     "work: uid 0 is you and 1..N are your /etc/subuid range. KILN_ROOT and "
                     "KILN_RUNROOT are set to the store. The exit status is the command's; 127 "
                     "when it is not found, 126 when it cannot be executed.",
      .arg_complete = Complete::command,
      .stop_at_first_arg = true,
      .run = run_unshare,
  };
}};

}  // namespace
}  // namespace kiln::cli
