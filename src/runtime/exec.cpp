// Joining a running container: namespaces by descriptor, root by the init's
// /proc/<pid>/root, the process set up as container_main sets up the
// container's (same capability and seccomp plans), the terminal copied as run()
// copies it. The parent stays in the container's namespaces only to wait.
#include "runtime/exec.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "runtime/capabilities.hpp"
#include "runtime/container.hpp"
#include "runtime/container_setup.hpp"
#include "runtime/seccomp_profile.hpp"
#include "runtime/seccomp_program.hpp"
#include "runtime/terminal.hpp"
#include "runtime/user.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::runtime {
namespace {

struct Namespace {
  const char* name;
  int type;
  util::UniqueFd fd;
};

/// The container's namespaces that differ from ours, the user one first (it grants the
/// rights to join the others) and the mount one last (it moves our root and cwd).
std::vector<Namespace> open_namespaces(pid_t pid) {
  std::vector<Namespace> out;
  for (auto [name, type] : {std::pair{"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
                            {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS}}) {
    std::string path = fmt::format("/proc/{}/ns/{}", pid, name);
    util::UniqueFd fd = util::open_file(path, O_RDONLY);
    struct stat theirs {}, ours {};
    if (::fstat(fd.get(), &theirs) < 0) throw util::sys_error("stat {}", path);
    // --network host shares our network namespace, which we could not join anyway.
    if (::stat(fmt::format("/proc/self/ns/{}", name).c_str(), &ours) == 0 && ours.st_ino == theirs.st_ino &&
        ours.st_dev == theirs.st_dev)
      continue;
    out.push_back({name, type, std::move(fd)});
  }
  return out;
}

/// As container_main's switch_user: groups (unless denied), gid, uid, keeping the
/// permitted capabilities for apply_capabilities.
void switch_user(const UserIds& user) {
  if (user.uid != 0 && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) throw util::sys_error("prctl PR_SET_KEEPCAPS");
  auto policy = util::try_read_file("/proc/self/setgroups");
  if (!(policy && policy->starts_with("deny")) && ::setgroups(user.groups.size(), user.groups.data()) < 0)
    throw util::sys_error("setgroups for user {}", user.uid);
  if (::setresgid(user.gid, user.gid, user.gid) < 0) throw util::sys_error("setresgid {}", user.gid);
  if (::setresuid(user.uid, user.uid, user.uid) < 0) throw util::sys_error("setresuid {}", user.uid);
}

struct Pty {
  util::UniqueFd master, slave;
};

/// A pty of the container's devpts (we are in its mount namespace), owned by the user.
Pty open_pty(const UserIds& user) {
  Pty pty;
  pty.master = util::UniqueFd{util::adopt, ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)};
  if (!pty.master) throw util::sys_error("open /dev/ptmx in the container");
  int unlock = 0;
  if (::ioctl(pty.master.get(), TIOCSPTLCK, &unlock) < 0) throw util::sys_error("unlock pty");
  pty.slave = util::UniqueFd{util::adopt, ::ioctl(pty.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)};
  if (!pty.slave) throw util::sys_error("open pty peer");
  if (::fchown(pty.slave.get(), user.uid, user.gid) < 0) util::debug("chown pty: {}", std::strerror(errno));
  return pty;
}

struct ExecChild {
  const ChildArgs* args;
  const ExecOptions* options;
  int slave = -1;
  int error_fd = -1;
};

/// The forked process, now inside the container's pid namespace.
[[noreturn]] void exec_child(const ExecChild& c) noexcept try {
  const ContainerSpec& spec = *c.args->spec;
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setsid();
  if (c.slave >= 0) {
    if (::ioctl(c.slave, TIOCSCTTY, 0) < 0) throw util::sys_error("make the pty the controlling terminal");
    for (int i = 0; i < 3; ++i)
      if (::dup2(c.slave, i) < 0) throw util::sys_error("dup2 pty {}", i);
  } else {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) throw util::sys_error("open /dev/null in the container");
    if (c.options->detach) {
      for (int i = 0; i < 3; ++i) ::dup2(null, i);
    } else if (!c.options->interactive) {
      ::dup2(null, 0);
    }
  }
  if (c.args->seccomp && !spec.no_new_privileges) install_seccomp(*c.args->seccomp);
  switch_user(spec.user);
  apply_capabilities(c.args->capabilities);
  if (::chdir(spec.cwd.c_str()) < 0) throw util::sys_error("chdir to working directory {}", spec.cwd);
  if (spec.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    throw util::sys_error("prctl PR_SET_NO_NEW_PRIVS");
  if (c.args->seccomp && spec.no_new_privileges) install_seccomp(*c.args->seccomp);
  exec_command(*c.args);
} catch (const std::exception& e) {
  write_child_error(c.error_fd, e);
  ::_exit(util::kind_of(e) == ErrorKind::command_not_found ? 127 : 126);
} catch (...) {
  ::_exit(126);
}

/// Copies between our stdio and the pty (or just waits), forwarding signals; the status.
int supervise_exec(pid_t child, util::Fd signals, util::Fd master, bool copy_stdin) {
  std::optional<RawTerminal> raw;  // the pty got our window's size before the fork
  if (master && copy_stdin && ::isatty(STDIN_FILENO)) raw.emplace(util::Fd(STDIN_FILENO));
  Supervised supervised{
      .signals = signals,
      .master = master,
      .copy_stdin = copy_stdin,
      .reap = [child]() -> std::optional<int> {
        int status = 0;
        if (::waitpid(child, &status, WNOHANG) == child) return docker_exit_status(status);
        return std::nullopt;
      },
      .forward = [child](int sig) { ::kill(child, sig); },
  };
  return supervise(supervised);
}

}  // namespace

std::vector<std::string> exec_environment(const std::vector<std::string>& base,
                                          const std::vector<std::string>& overrides, bool tty) {
  std::vector<std::string> env = base;
  auto key_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  auto set = [&](const std::string& entry) {
    auto key = key_of(entry);
    for (auto& e : env)
      if (key_of(e) == key) {
        e = entry;
        return;
      }
    env.push_back(entry);
  };
  for (const auto& entry : overrides) set(entry);
  if (tty && std::none_of(env.begin(), env.end(), [&](const auto& e) { return key_of(e) == "TERM"; }))
    env.push_back("TERM=xterm");
  return env;
}

int exec_in_container(const store::ContainerRecord& record, const ExecOptions& options) {
  if (options.args.empty()) fail(ErrorKind::invalid_input, "no command specified");
  auto state = state_of(record);
  pid_t pid = state.pid;
  auto not_running = [&] { return Error(fmt::format("container {} is not running", record.name), ErrorKind::conflict); };
  if (state.status != ContainerStatus::running || !process_alive(pid, state.pid_start_time)) throw not_running();
  std::vector<Namespace> namespaces;
  util::UniqueFd root;
  try {
    namespaces = open_namespaces(pid);
    // Where the init pivoted to; absent when /proc denies it (then the mount namespace's
    // root, which the pivot made the container's, serves).
    root = util::UniqueFd{util::adopt, ::open(fmt::format("/proc/{}/root", pid).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
  } catch (const std::exception& e) {
    if (!process_alive(pid, state.pid_start_time)) throw not_running();
    util::rethrow_with("open the namespaces of {}", record.name);
  }
  // The descriptors were opened before this check: they belong to the recorded init.
  if (!process_alive(pid, state.pid_start_time)) throw not_running();

  // The seccomp program while the host's files are at hand (a profile file is one).
  std::optional<SeccompProgram> seccomp =
      container_seccomp(state.last_spec.seccomp, state.last_spec.single_id,
                        compute_capabilities(state.last_spec.capabilities), {});

  // Signals for the signalfd are blocked before fork; the child unblocks them.
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD}) sigaddset(&forwarded, sig);
  ::sigprocmask(SIG_BLOCK, &forwarded, nullptr);
  util::UniqueFd signals{util::adopt, ::signalfd(-1, &forwarded, SFD_CLOEXEC)};
  if (!signals) throw util::sys_error("signalfd");

  for (auto& ns : namespaces)
    if (::setns(ns.fd.get(), ns.type) < 0) throw util::sys_error("join the {} namespace of {}", ns.name, record.name);
  if (root) {
    if (::fchdir(root.get()) < 0 || ::chroot(".") < 0) throw util::sys_error("enter the root of {}", record.name);
  }
  if (::chdir("/") < 0) throw util::sys_error("chdir /");

  ContainerSpec spec = state.last_spec;
  spec.args = options.args;
  spec.env = exec_environment(state.last_spec.env, options.env, options.tty);
  if (options.workdir) spec.cwd = *options.workdir;
  if (options.user)
    spec.user = resolve_user(*options.user, util::try_read_file("/etc/passwd").value_or(""),
                             util::try_read_file("/etc/group").value_or(""));
  spec.tty = options.tty;
  spec.stdin_open = options.interactive;

  CapabilitySet caps = compute_capabilities(spec.capabilities);
  ChildArgs args;
  args.spec = &spec;
  args.capabilities = plan_capabilities(caps, spec.user.uid);
  args.capabilities.last = kernel_last_capability();
  args.seccomp = std::move(seccomp);
  std::string path = kDefaultPath;
  for (const auto& entry : spec.env)
    if (entry.starts_with("PATH=")) path = entry.substr(5);
  args.path_dirs = util::split(path, ':');

  Pty pty;
  if (options.tty) {
    pty = open_pty(spec.user);
    // Before the command starts: it may ask for its size at once.
    copy_window_size(util::Fd(STDIN_FILENO), pty.master.borrow());
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) < 0) throw util::sys_error("pipe2");
  util::UniqueFd error_read{util::adopt, pipe_fds[0]}, error_write{util::adopt, pipe_fds[1]};

  ExecChild child_args{&args, &options, pty.slave ? pty.slave.get() : -1, error_write.get()};
  pid_t child = ::fork();
  if (child < 0) throw util::sys_error("fork into {}", record.name);
  if (child == 0) exec_child(child_args);
  error_write.reset();
  pty.slave.reset();
  try {
    read_child_error(error_read);
  } catch (...) {
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    throw;
  }
  if (options.detach) return 0;
  return supervise_exec(child, signals.borrow(), pty.master.borrow(), options.interactive);
}

}  // namespace kiln::runtime
