// Starting a container from a ContainerSpec: the parent's side of clone, the
// container process as an owned resource, and `run` in the foreground (signals
// forwarded, terminal copied, Docker's exit status). The caller is already in
// kiln's user namespace (userns::enter()) and single-threaded.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>

#include "runtime/container_spec.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

/// Host descriptors that become the container's 0, 1, 2 when it has no tty (stdin only
/// with spec.stdin_open; /dev/null otherwise). Borrowed: the caller keeps them open.
struct Stdio {
  util::Fd in{0};
  util::Fd out{1};
  util::Fd err{2};
};

struct StartOptions {
  Stdio stdio;
  /// Runs in the parent after clone, before the container does anything (e.g. connect
  /// its network namespace). An exception kills the child and propagates.
  std::function<void(pid_t)> before_start;
  /// Where compiled seccomp filters are kept between containers; empty: compile each time.
  std::filesystem::path seccomp_cache;
};

/// A started container's init process. Owns it: destroying an unwaited one kills it with
/// SIGKILL and reaps it.
class ContainerProcess {
public:
  ContainerProcess(pid_t pid, util::UniqueFd terminal) : pid_(pid), terminal_(std::move(terminal)) {}
  ContainerProcess(ContainerProcess&& other) noexcept;
  ContainerProcess& operator=(ContainerProcess&&) = delete;
  ContainerProcess(const ContainerProcess&) = delete;
  ~ContainerProcess();

  /// The init's pid in kiln's pid namespace.
  pid_t pid() const noexcept { return pid_; }
  /// The pty master (spec.tty), else empty.
  util::Fd terminal() const noexcept { return terminal_.borrow(); }
  /// Blocks until it exits; the status as Docker reports it (128+signal for a signal).
  int wait();
  /// The status if it has exited, without blocking.
  std::optional<int> try_wait();
  /// kill(2); a no-op once reaped.
  void kill(int sig) noexcept;

private:
  friend ContainerProcess start(const ContainerSpec& spec, StartOptions options);
  pid_t pid_ = -1;
  util::UniqueFd terminal_;
  std::optional<int> status_;
};

/// Creates the container and waits until its command was exec'd. Throws kiln::Error:
/// command_not_found (exit 127), not_executable (126), or the setup step that failed.
ContainerProcess start(const ContainerSpec& spec, StartOptions options = {});

/// start() in the foreground: forwards SIGTERM SIGINT SIGHUP SIGQUIT SIGUSR1 SIGUSR2
/// SIGWINCH to the container, with spec.tty puts the host terminal in raw mode and copies
/// both ways; returns the exit status.
int run(const ContainerSpec& spec);

/// A wait(2) status as Docker reports it: the exit code, or 128 + the signal number.
int docker_exit_status(int wait_status) noexcept;

}  // namespace kiln::runtime
