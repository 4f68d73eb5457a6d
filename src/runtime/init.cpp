// --init: kiln's own minimal pid 1. A command that is pid 1 gets no default signal
// actions and must reap orphans it knows nothing about; this reaper forks the
// command, forwards every catchable signal to it, reaps all children, and exits
// with the command's status once it is gone.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/container_setup.hpp"
#include "util/error.hpp"

namespace kiln::runtime {

void run_init(const ChildArgs& args) {
  // Blocked signals stay pending even for pid 1 (whose default actions are ignored),
  // so sigwaitinfo sees everything sent to the container.
  sigset_t all;
  sigfillset(&all);
  sigset_t saved;
  ::sigprocmask(SIG_BLOCK, &all, &saved);

  pid_t command = ::fork();
  if (command < 0) throw util::sys_error("fork the container command");
  if (command == 0) {
    try {
      ::sigprocmask(SIG_SETMASK, &saved, nullptr);
      exec_command(args);
    } catch (const std::exception& e) {
      write_child_error(args.error_fd, e);
      ::_exit(util::kind_of(e) == ErrorKind::command_not_found ? 127 : 126);
    }
  }
  // The command holds the error pipe now; its exec closes it and tells the parent.
  ::close(args.error_fd);
  for (int fd = 0; fd < 3; ++fd) ::close(fd);

  for (;;) {
    siginfo_t info{};
    int sig = ::sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      ::kill(command, sig);
      continue;
    }
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != command) continue;
      if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
      if (WIFSIGNALED(status)) ::_exit(128 + WTERMSIG(status));
    }
  }
}

}  // namespace kiln::runtime
