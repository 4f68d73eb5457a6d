// The parent's side of a container: prepare everything the child needs, clone,
// let the caller hook in, say go, collect the pty and the error pipe's verdict.
// Then, for run(), one poll loop over a signalfd and the terminal.
#include "runtime/container.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "runtime/container_setup.hpp"
#include "runtime/terminal.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::runtime {
namespace {

struct Pipe {
  util::UniqueFd read;
  util::UniqueFd write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) throw util::sys_error("pipe2");
  return {util::UniqueFd{util::adopt, fds[0]}, util::UniqueFd{util::adopt, fds[1]}};
}

/// The container's $PATH (from its env, else Docker's default), split for the lookup.
std::vector<std::string> path_dirs(const std::vector<std::string>& env) {
  std::string path = kDefaultPath;
  for (const auto& entry : env)
    if (entry.starts_with("PATH=")) path = entry.substr(5);
  return util::split(path, ':');
}

/// clone(CLONE_VM | CLONE_VFORK) into container_main on a stack of its own; returns once
/// the child exec'd or exited, with its pid (-1 and errno on failure). The child must
/// not touch objects of ours beyond reading args: their memory is ours.
long clone_sharing_memory(unsigned long flags, const ChildArgs& args) {
  constexpr std::size_t kStackSize = 1 << 20;  // container_main's frames, fmt, unwinding
  void* stack = ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (stack == MAP_FAILED) return -1;
  auto entry = [](void* a) -> int { container_main(*static_cast<const ChildArgs*>(a)); };
  int pid = ::clone(entry, static_cast<char*>(stack) + kStackSize, static_cast<int>(flags | CLONE_VM | CLONE_VFORK),
                    const_cast<ChildArgs*>(&args));
  int saved = errno;
  ::munmap(stack, kStackSize);  // the child is past its exec (or gone) by now
  errno = saved;
  return pid;
}

/// Waits for a child, retrying EINTR; the raw wait status.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw util::sys_error("waitpid {}", pid);
  return status;
}

}  // namespace

int docker_exit_status(int wait_status) noexcept {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

ContainerProcess::ContainerProcess(ContainerProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), terminal_(std::move(other.terminal_)), status_(other.status_) {}

ContainerProcess::~ContainerProcess() {
  if (pid_ <= 0 || status_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

int ContainerProcess::wait() {
  if (!status_) status_ = docker_exit_status(wait_for(pid_));
  return *status_;
}

std::optional<int> ContainerProcess::try_wait() {
  if (status_) return status_;
  int status = 0;
  pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done < 0 && errno != EINTR) throw util::sys_error("waitpid {}", pid_);
  if (done == pid_) status_ = docker_exit_status(status);
  return status_;
}

void ContainerProcess::kill(int sig) noexcept {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

ContainerProcess start(const ContainerSpec& spec, StartOptions options) {
  // Everything that can fail or allocate happens here, before clone.
  CapabilitySet caps = compute_capabilities(spec.capabilities);
  ChildArgs args;
  args.spec = &spec;
  args.capabilities = plan_capabilities(caps, spec.user.uid);
  args.capabilities.last = kernel_last_capability();
  // Compiled (or found in the cache) here, so its errors surface before clone.
  args.seccomp = container_seccomp(spec.seccomp, spec.single_id, caps, options.seccomp_cache);
  args.path_dirs = path_dirs(spec.env);
  args.stdio[0] = options.stdio.in.get();
  args.stdio[1] = options.stdio.out.get();
  args.stdio[2] = options.stdio.err.get();
  if (spec.args.empty()) fail(ErrorKind::invalid_input, "no command specified");

  Pipe sync = make_pipe();
  Pipe errors = make_pipe();
  util::UniqueFd terminal_parent, terminal_child;
  if (spec.tty) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) throw util::sys_error("socketpair");
    terminal_parent = util::UniqueFd{util::adopt, pair[0]};
    terminal_child = util::UniqueFd{util::adopt, pair[1]};
  }
  args.sync_fd = sync.read.get();
  args.error_fd = errors.write.get();
  args.terminal_fd = terminal_child.get();
  if (struct winsize size {}; spec.tty && ::ioctl(STDIN_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row && size.ws_col)
    args.window = size;

  unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
  if (spec.network == NetworkMode::none) flags |= CLONE_NEWNET;
  args.close_fds[0] = sync.write.get();
  args.close_fds[1] = errors.read.get();
  args.close_fds[2] = terminal_parent.get();
  long pid;
  // Unless the caller must act on the pid before the setup runs, or the child stays
  // kiln's code for life (--init), the child runs in our memory on a stack of its own
  // while we wait for its exec, as posix_spawn does: no page tables to copy, no
  // copy-on-write faults on either side, no copy to tear down at the exec.
  bool in_our_memory = !spec.init && !options.before_start;
  if (in_our_memory) {
    args.sync_fd = -1;
    pid = clone_sharing_memory(flags, args);
  } else {
    // Raw clone without a stack behaves like fork: the child runs on a copy of ours.
    pid = ::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr);
    if (pid == 0) container_main(args);
  }
  if (pid < 0) throw util::sys_error("clone the container");
  ContainerProcess process(static_cast<pid_t>(pid), {});
  sync.read.reset();
  errors.write.reset();
  terminal_child.reset();

  if (options.before_start) options.before_start(process.pid());
  if (!in_our_memory) util::write_all(sync.write, "g");
  sync.write.reset();
  util::UniqueFd master;
  if (spec.tty) master = receive_fd(terminal_parent);
  try {
    read_child_error(errors.read);
  } catch (...) {
    process.wait();
    throw;
  }
  process.terminal_ = std::move(master);
  return process;
}

int run(const ContainerSpec& spec) {
  // Block the forwarded signals (and SIGCHLD) for a signalfd; the child unblocks its own.
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD}) sigaddset(&forwarded, sig);
  sigset_t saved;
  ::sigprocmask(SIG_BLOCK, &forwarded, &saved);
  struct RestoreMask {
    sigset_t mask;
    ~RestoreMask() { ::sigprocmask(SIG_SETMASK, &mask, nullptr); }
  } restore{saved};
  util::UniqueFd signals{util::adopt, ::signalfd(-1, &forwarded, SFD_CLOEXEC)};
  if (!signals) throw util::sys_error("signalfd");

  ContainerProcess process = start(spec);
  util::Fd master = process.terminal();
  std::optional<RawTerminal> raw;  // the pty has our window's size from start() already
  if (master && ::isatty(STDIN_FILENO)) raw.emplace(util::Fd(STDIN_FILENO));
  Supervised supervised{
      .signals = signals.borrow(),
      .master = master,
      .copy_stdin = spec.stdin_open,
      .reap = [&process] { return process.try_wait(); },
      .forward = [&process](int sig) { process.kill(sig); },
  };
  return supervise(supervised);
}

}  // namespace kiln::runtime
