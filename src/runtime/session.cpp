// The waiting side of a container's life: guard, mount, start, record, copy
// output, forward signals, record the exit, clean up.
#include "runtime/session.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "runtime/container.hpp"
#include "runtime/container_log.hpp"
#include "runtime/container_record.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/terminal.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kiln::runtime {
namespace {

struct Pipe {
  util::UniqueFd read, write;
};

Pipe make_pipe(int flags = O_CLOEXEC) {
  int fds[2];
  if (::pipe2(fds, flags) < 0) throw util::sys_error("pipe2");
  return {util::UniqueFd{util::adopt, fds[0]}, util::UniqueFd{util::adopt, fds[1]}};
}

/// A child that outlives nothing: told the container's pid, it waits for EOF on a pipe.
/// "done" first means a clean end; EOF alone means this process died, so it kills the
/// container and detaches the rootfs. Only fuse-overlayfs needs it: its mount program
/// lives in this process's mount namespace, keeps it alive, and serves the mount until
/// someone unmounts it. With kernel overlay or vfs the container's init dies with this
/// process on its own (PR_SET_PDEATHSIG), and the namespace holding the rootfs with it.
class Guard {
public:
  explicit Guard(const fs::path& target) {
    Pipe p = make_pipe();
    pid_t pid = ::fork();
    if (pid < 0) throw util::sys_error("fork the guard");
    if (pid == 0) {
      p.write.reset();
      guard_main(p.read.get(), target.c_str());
    }
    pid_ = pid;
    pipe_ = std::move(p.write);
  }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  ~Guard() {
    done();
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  void watch(pid_t container) {
    std::string msg = fmt::format("p{}\n", container);
    (void)!::write(pipe_.get(), msg.data(), msg.size());
  }
  void done() noexcept {
    if (!pipe_) return;
    (void)!::write(pipe_.get(), "d", 1);
    pipe_.reset();
  }

private:
  [[noreturn]] static void guard_main(int fd, const char* target) noexcept {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU}) ::signal(sig, SIG_IGN);
    if (fd != 3) {
      ::dup2(fd, 3);
      fd = 3;
    }
    ::syscall(SYS_close_range, 4, ~0U, 0);
    pid_t container = 0;
    char buffer[64];
    std::string text;
    for (;;) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
      if (text.find('d') != std::string::npos) ::_exit(0);
      if (auto nl = text.find('\n'); nl != std::string::npos && text[0] == 'p') container = std::atoi(text.c_str() + 1);
    }
    if (container > 0) ::kill(container, SIGKILL);
    ::umount2(target, MNT_DETACH);
    ::_exit(0);
  }

  pid_t pid_ = -1;
  util::UniqueFd pipe_;
};

/// Blocks the forwarded signals (and SIGCHLD) for a signalfd; restores the mask after.
class SignalFd {
public:
  SignalFd() {
    sigemptyset(&set_);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD}) sigaddset(&set_, sig);
    ::sigprocmask(SIG_BLOCK, &set_, &saved_);
    fd_ = util::UniqueFd{util::adopt, ::signalfd(-1, &set_, SFD_CLOEXEC)};
    if (!fd_) throw util::sys_error("signalfd");
  }
  ~SignalFd() { ::sigprocmask(SIG_SETMASK, &saved_, nullptr); }
  util::Fd fd() const { return fd_.borrow(); }

private:
  sigset_t set_{}, saved_{};
  util::UniqueFd fd_;
};

void tell_ready(int fd, std::string_view message) noexcept {
  if (fd < 0) return;
  (void)!::write(fd, message.data(), message.size());
  ::close(fd);
}

/// Where output goes: this process's stdout/stderr or the log.
class Sink {
public:
  explicit Sink(std::optional<LogWriter> log) : log_(std::move(log)) {}
  void write(bool err, std::string_view data) {
    if (log_) {
      log_->write(err ? "stderr" : "stdout", data);
      return;
    }
    try {
      util::write_all(util::Fd(err ? 2 : 1), data);
    } catch (const std::exception&) {
      // A closed stdout must not stop the container's bookkeeping.
    }
  }

private:
  std::optional<LogWriter> log_;
};

}  // namespace

int run_session(store::Store& store, const std::string& id, const SessionOptions& options) {
  return run_session(store, store.container(id), options);
}

int run_session(store::Store& store, store::ContainerRecord record, const SessionOptions& options) {
  int ready_fd = options.ready_fd;
  ContainerConfig config = config_of(record);
  auto paths = container_paths(store, record.id);
  ContainerState before = state_of(record);
  if (before.status == ContainerStatus::running &&
      (process_alive(before.pid, before.pid_start_time) || process_alive(before.monitor_pid, before.monitor_start_time)))
    fail(ErrorKind::conflict, "container {} is already running", record.name);

  std::optional<ContainerProcess> process;
  std::optional<Guard> guard;
  snapshot::MountedSnapshot rootfs;
  ContainerSpec spec;
  // Output plumbing, set up before the start so no byte is lost.
  Pipe out_pipe, err_pipe;
  util::UniqueFd dev_null;
  std::optional<SignalFd> signals;
  try {
    if (config.driver == "fuse-overlayfs") guard.emplace(paths.rootfs(config.driver));
    rootfs = mount_container(store, record, config);
    spec = start_spec(store, record, config, rootfs.target());
    Stdio stdio;
    if (options.detached) {
      spec.stdin_open = false;
      dev_null = util::open_file("/dev/null", O_RDWR);
      stdio.in = dev_null.borrow();
      if (!spec.tty) {
        out_pipe = make_pipe();
        err_pipe = make_pipe();
        stdio.out = out_pipe.write.borrow();
        stdio.err = err_pipe.write.borrow();
      }
    }
    signals.emplace();
    StartOptions start_options;
    start_options.stdio = stdio;
    if (guard) start_options.before_start = [&](pid_t pid) { guard->watch(pid); };
    start_options.seccomp_cache = store.cache_dir() / "seccomp";
    process.emplace(start(spec, start_options));
    out_pipe.write.reset();
    err_pipe.write.reset();
  } catch (const std::exception& e) {
    std::string why = util::describe(e);
    ErrorKind kind = util::kind_of(e);
    try {
      update_state(store, record.id, [&](ContainerState& s) {
        s.status = before.status == ContainerStatus::created ? ContainerStatus::created : ContainerStatus::exited;
        s.error = why;
        s.exit_code = kind == ErrorKind::command_not_found ? 127 : kind == ErrorKind::not_executable ? 126 : 125;
        s.pid = 0;
        s.monitor_pid = 0;
      });
    } catch (const std::exception&) {
    }
    tell_ready(ready_fd, fmt::format("{} {}", static_cast<int>(kind), why));
    rootfs = {};
    guard.reset();
    if (config.auto_remove) {
      try {
        remove_container(store, record, true);
      } catch (const std::exception&) {
      }
    }
    throw;
  }

  pid_t pid = process->pid();
  update_state(store, record.id, [&](ContainerState& s) {
    s.status = ContainerStatus::running;
    s.pid = pid;
    s.pid_start_time = process_start_time(pid).value_or(0);
    s.monitor_pid = ::getpid();
    s.monitor_start_time = process_start_time(::getpid()).value_or(0);
    s.exit_code = 0;
    s.error.clear();
    s.started_at = Clock::now();
    s.finished_at.reset();
    s.last_spec = spec;
  });
  tell_ready(ready_fd, "ok");

  Sink sink(options.detached ? std::optional<LogWriter>(LogWriter(paths.log)) : std::nullopt);
  util::Fd master = process->terminal();
  std::optional<RawTerminal> raw;
  bool copy_stdin = false;
  if (master && !options.detached) {
    // The pty already has our window's size (start() passed it to the container); a
    // resize since then waits on the signalfd as SIGWINCH.
    if (::isatty(STDIN_FILENO)) raw.emplace(util::Fd(STDIN_FILENO));
    copy_stdin = spec.stdin_open;
  }

  char buffer[16384];
  // Reads once from `from`; false at EOF or an error (EIO from a pty whose slave closed).
  auto pump = [&](util::Fd from, auto&& deliver) {
    ssize_t n = ::read(from.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    deliver(std::string_view(buffer, static_cast<std::size_t>(n)));
    return true;
  };
  auto to_out = [&](std::string_view d) { sink.write(false, d); };
  auto to_err = [&](std::string_view d) { sink.write(true, d); };
  auto to_master = [&](std::string_view d) {
    try {
      util::write_all(master, d);
    } catch (const std::exception&) {
    }
  };

  enum Slot { kSignals, kMaster, kStdin, kOut, kErr, kSlots };
  struct pollfd fds[kSlots];
  bool open[kSlots] = {true, static_cast<bool>(master), copy_stdin, static_cast<bool>(out_pipe.read),
                       static_cast<bool>(err_pipe.read)};
  int sources[kSlots] = {signals->fd().get(), master.get(), STDIN_FILENO, out_pipe.read.get(), err_pipe.read.get()};
  int status = 0;
  bool exited = false;
  while (!exited) {
    for (int i = 0; i < kSlots; ++i) fds[i] = {open[i] ? sources[i] : -1, POLLIN, 0};
    if (::poll(fds, kSlots, -1) < 0) {
      if (errno == EINTR) continue;
      throw util::sys_error("poll");
    }
    if (fds[kMaster].revents) open[kMaster] = pump(master, to_out);
    if (fds[kStdin].revents && !pump(util::Fd(STDIN_FILENO), to_master)) open[kStdin] = false;
    if (fds[kOut].revents) open[kOut] = pump(out_pipe.read.borrow(), to_out);
    if (fds[kErr].revents) open[kErr] = pump(err_pipe.read.borrow(), to_err);
    if (fds[kSignals].revents & POLLIN) {
      struct signalfd_siginfo info {};
      if (::read(signals->fd().get(), &info, sizeof info) != sizeof info) continue;
      int sig = static_cast<int>(info.ssi_signo);
      if (sig == SIGCHLD) {
        if (auto done = process->try_wait()) {
          status = *done;
          exited = true;
        }
      } else if (sig == SIGWINCH && master && !options.detached) {
        copy_window_size(util::Fd(STDIN_FILENO), master);
      } else if (sig != SIGWINCH) {
        process->kill(sig);
      }
    }
  }
  // Drain what the command wrote before it exited.
  for (int slot : {kMaster, kOut, kErr}) {
    util::Fd fd(sources[slot]);
    while (open[slot]) {
      struct pollfd p = {fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) break;
      open[slot] = slot == kErr ? pump(fd, to_err) : pump(fd, to_out);
    }
  }
  raw.reset();

  // A --rm container's record is removed below: recording its end first would be a
  // write (a new file and a rename) nobody reads. Should kiln die before the removal,
  // the record still says running with its monitor gone, and the next command's
  // reconcile removes it (as after kill -9 during the run).
  if (!config.auto_remove)
    update_state(store, record.id, [&](ContainerState& s) {
      s.status = ContainerStatus::exited;
      s.exit_code = status;
      s.pid = 0;
      s.monitor_pid = 0;
      s.finished_at = Clock::now();
    });
  try {
    rootfs.unmount();
  } catch (const std::exception& e) {
    util::warn("{}", util::describe(e));
  }
  guard.reset();
  // The caller exits next: the tree's deletion need not hold up the shell.
  if (config.auto_remove) remove_container(store, record, true, /*in_background=*/true);
  return status;
}

}  // namespace kiln::runtime
