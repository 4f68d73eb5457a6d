// Container setup, in the child of clone(NEWPID|NEWNS|NEWUTS|NEWIPC[|NEWNET]),
// as a script of named steps. Order matters and each step says why it sits where
// it does; the script itself is container_main at the bottom.
#include "runtime/container_setup.hpp"

#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "runtime/mounts.hpp"
#include "runtime/terminal.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kiln::runtime {
namespace {

/// Blocks until the parent says go (one byte) or dies (EOF): the parent may set up
/// things that need the child's pid (network, id maps) before anything runs.
void wait_for_parent(int sync_fd) {
  if (sync_fd < 0) return;  // started in the parent's memory, which waits for the exec
  char byte = 0;
  ssize_t n;
  do n = ::read(sync_fd, &byte, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) fail("the parent went away before the container started");
  ::close(sync_fd);
}

/// The container dies with the kiln process that started it (kill -9 of kiln included):
/// SIGKILL to this init empties its pid namespace, and with it goes the mount namespace
/// that holds the root file system. Set first, before the parent says go; a change of
/// the effective ids clears it, so die_with_parent() runs again after switch_user.
void die_with_parent() {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) throw util::sys_error("prctl PR_SET_PDEATHSIG");
}

/// After the second die_with_parent(): a parent that died in between would go unnoticed,
/// but then nobody reads error_fd any more, and a pipe without readers polls POLLERR.
void check_parent_alive(int error_fd) {
  struct pollfd p = {error_fd, POLLOUT, 0};
  if (::poll(&p, 1, 0) > 0 && (p.revents & POLLERR)) ::_exit(137);
}

/// First: kiln's parent blocks signals for its signalfd, and the mask survives clone
/// and execve; the container must start with none blocked and default dispositions.
void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
}

/// Before the pivot, while host descriptors and the host's /dev/null are reachable.
/// Moves the caller's descriptors to 0, 1, 2 via high copies, so that an fd already in
/// 0..2 is not overwritten before it is used.
void attach_stdio(const ChildArgs& args) {
  int copies[3];
  for (int i = 0; i < 3; ++i) {
    int source = args.stdio[i];
    if (i == 0 && !args.spec->stdin_open) source = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    copies[i] = ::fcntl(source, F_DUPFD_CLOEXEC, 10);
    if (copies[i] < 0) throw util::sys_error("dup stdio {}", source);
  }
  for (int i = 0; i < 3; ++i) {
    if (::dup2(copies[i], i) < 0) throw util::sys_error("dup2 stdio {}", i);
    ::close(copies[i]);
  }
}

/// Inside the container's devpts (after the pivot), so the pty belongs to the
/// container; before switch_user, which may lose the right to chown it. The master goes
/// to kiln; the slave becomes the controlling terminal and 0, 1, 2.
void attach_terminal(int socket_fd, const UserIds& user, const std::optional<struct winsize>& window) {
  util::UniqueFd master{util::adopt, ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)};
  if (!master) throw util::sys_error("open /dev/ptmx");
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) < 0) throw util::sys_error("unlock pty");
  util::UniqueFd slave{util::adopt, ::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY)};
  if (!slave) throw util::sys_error("open pty peer");
  // The size is set here, not by kiln once the master arrives: the command may ask for
  // it at once (stty size, a shell's first prompt).
  if (window && ::ioctl(master.get(), TIOCSWINSZ, &*window) < 0) util::debug("set the pty's size: {}", std::strerror(errno));
  if (::fchown(slave.get(), user.uid, user.gid) < 0) util::debug("chown pty: {}", std::strerror(errno));
  if (::ioctl(slave.get(), TIOCSCTTY, 0) < 0) throw util::sys_error("make the pty the controlling terminal");
  // /dev/console is the container's terminal too, as runc makes it.
  int number = -1;
  if (::ioctl(master.get(), TIOCGPTN, &number) == 0) {
    util::UniqueFd console{util::adopt, ::open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600)};
    std::string pts = fmt::format("/dev/pts/{}", number);
    if (!console || ::mount(pts.c_str(), "/dev/console", nullptr, MS_BIND, nullptr) < 0)
      util::debug("no /dev/console: {}", std::strerror(errno));
  }
  for (int i = 0; i < 3; ++i)
    if (::dup2(slave.get(), i) < 0) throw util::sys_error("dup2 pty {}", i);
  send_fd(util::Fd(socket_fd), master);
  ::close(socket_fd);
}

/// Needs CAP_SYS_ADMIN over the new UTS namespace: before capabilities are dropped.
void set_hostname(const std::string& name) {
  if (name.empty()) return;
  if (::sethostname(name.data(), name.size()) < 0) throw util::sys_error("sethostname {}", name);
}

/// --network none: the new namespace's lo starts down; bring it up while we hold
/// CAP_NET_ADMIN.
void bring_up_loopback() {
  util::UniqueFd sock{util::adopt, ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (!sock) throw util::sys_error("socket for lo");
  struct ifreq request {};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &request) < 0) throw util::sys_error("get flags of lo");
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &request) < 0) throw util::sys_error("bring up lo");
}

/// As root and before a read-only remount: `run -w /new/dir` creates the directory,
/// as Docker does.
void prepare_cwd(const std::string& cwd) {
  struct stat info {};
  if (::stat(cwd.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) fail(ErrorKind::invalid_input, "working directory {} is not a directory", cwd);
    return;
  }
  util::make_dirs(cwd, 0755);
}

/// After switch_user, so the user's own permissions decide whether it may enter.
void enter_cwd(const std::string& cwd) {
  if (::chdir(cwd.c_str()) < 0) throw util::sys_error("chdir to working directory {}", cwd);
}

/// Groups, then gid, then uid: each later call removes the right to make the earlier.
/// PR_SET_KEEPCAPS keeps the permitted set across the uid change so apply_capabilities
/// can still drop the bounding set. A user namespace with setgroups denied (the
/// single-id map) cannot set supplementary groups: they are skipped there.
void switch_user(const UserIds& user) {
  if (user.uid != 0 && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) throw util::sys_error("prctl PR_SET_KEEPCAPS");
  auto policy = util::try_read_file("/proc/self/setgroups");
  if (policy && policy->starts_with("deny")) {
    if (!user.groups.empty()) util::debug("setgroups denied in this user namespace: supplementary groups skipped");
  } else if (::syscall(SYS_setgroups, user.groups.size(), user.groups.data()) < 0) {
    throw util::sys_error("setgroups for user {}", user.uid);
  }
  // The system calls themselves, not libc's wrappers: those apply the ids to every
  // thread they know of, and a child that shares kiln's memory shares that list too.
  const char* hint = " (is the id mapped in kiln's user namespace?)";
  if (::syscall(SYS_setresgid, user.gid, user.gid, user.gid) < 0)
    throw util::sys_error("setresgid {}{}", user.gid, errno == EINVAL ? hint : "");
  if (::syscall(SYS_setresuid, user.uid, user.uid, user.uid) < 0)
    throw util::sys_error("setresuid {}{}", user.uid, errno == EINVAL ? hint : "");
}

void set_no_new_privs() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) throw util::sys_error("prctl PR_SET_NO_NEW_PRIVS");
}

[[noreturn]] void exit_for(const std::exception& e) noexcept {
  ::_exit(util::kind_of(e) == ErrorKind::command_not_found ? 127 : 126);
}

}  // namespace

void write_child_error(int fd, const std::exception& e) noexcept {
  try {
    std::string message(1, static_cast<char>(util::kind_of(e)));
    message += util::describe(e);
    util::write_all(util::Fd(fd), message);
  } catch (...) {
  }
}

void read_child_error(util::Fd fd) {
  std::string message = util::read_all(fd);
  if (message.empty()) return;
  throw Error(message.substr(1), static_cast<ErrorKind>(message[0]));
}

[[noreturn]] void exec_command(const ChildArgs& args) {
  const auto& spec = *args.spec;
  if (spec.args.empty()) fail(ErrorKind::invalid_input, "no command specified");
  std::vector<char*> argv;
  for (const auto& arg : spec.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& entry : spec.env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  // Descriptors kiln inherited without O_CLOEXEC must not reach the container.
  ::syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);

  const std::string& name = spec.args[0];
  auto fail_exec = [&name](int error) -> void {
    if (error == ENOENT || error == ENOTDIR)
      fail(ErrorKind::command_not_found, "{}: no such file or directory: \"{}\"", "exec", name);
    if (error == EACCES || error == ENOEXEC || error == EISDIR || error == EPERM)
      throw Error(fmt::format("exec \"{}\": {}", name, std::strerror(error)), ErrorKind::not_executable);
    throw util::sys_error_code(error, "exec \"{}\"", name);
  };
  // An empty name is no file at all, as runc says; a PATH search would find directories.
  if (name.empty()) fail(ErrorKind::command_not_found, "executable file not found in $PATH: \"\"");
  if (name.find('/') != std::string::npos) {
    ::execve(name.c_str(), argv.data(), envp.data());
    fail_exec(errno);
  }
  // $PATH search as Go's exec.LookPath: the first executable wins; a match that exists
  // but cannot be executed is reported only if nothing later works.
  int first_error = 0;
  for (const auto& dir : args.path_dirs) {
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    ::execve(candidate.c_str(), argv.data(), envp.data());
    if (errno != ENOENT && errno != ENOTDIR && first_error == 0) first_error = errno;
  }
  if (first_error) fail_exec(first_error);
  fail(ErrorKind::command_not_found, "executable file not found in $PATH: \"{}\"", name);
}

void container_main(const ChildArgs& args) noexcept try {
  const ContainerSpec& spec = *args.spec;
  for (int fd : args.close_fds)
    if (fd >= 0) ::close(fd);
  die_with_parent();
  wait_for_parent(args.sync_fd);
  reset_signals();
  // A session of its own: the host terminal's ^C reaches kiln, which forwards it once.
  ::setsid();
  if (!spec.tty) attach_stdio(args);

  make_mounts_private();
  auto root = mount_rootfs(spec.rootfs);
  mount_proc_dev_sys(root, spec.network);
  mount_volumes(root, spec.mounts, spec.user);
  pivot_into(spec.rootfs);
  prepare_cwd(spec.cwd);
  mask_paths();
  if (spec.read_only_rootfs) remount_root_read_only();
  if (spec.tty) attach_terminal(args.terminal_fd, spec.user, args.window);

  set_hostname(spec.hostname);
  if (spec.network == NetworkMode::none) bring_up_loopback();

  // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which the next steps
  // drop: load it now (as runc does); the profile allows the calls that follow.
  if (args.seccomp && !spec.no_new_privileges) install_seccomp(*args.seccomp);
  switch_user(spec.user);
  apply_capabilities(args.capabilities);
  enter_cwd(spec.cwd);
  if (spec.no_new_privileges) set_no_new_privs();
  // With no_new_privs the filter goes last, so it constrains only the command.
  if (args.seccomp && spec.no_new_privileges) install_seccomp(*args.seccomp);

  die_with_parent();
  check_parent_alive(args.error_fd);

  if (spec.init) run_init(args);
  exec_command(args);
} catch (const std::exception& e) {
  write_child_error(args.error_fd, e);
  exit_for(e);
} catch (...) {
  write_child_error(args.error_fd, Error("container setup failed"));
  ::_exit(126);
}

}  // namespace kiln::runtime
