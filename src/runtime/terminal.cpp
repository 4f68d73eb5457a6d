// Raw mode, descriptor passing and window sizes for container terminals, and the
// foreground loop that copies a terminal and forwards signals.
#include "runtime/terminal.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

RawTerminal::RawTerminal(util::Fd fd) : fd_(fd) {
  if (::tcgetattr(fd.get(), &saved_) < 0) throw util::sys_error("tcgetattr {}", fd.get());
  struct termios raw = saved_;
  ::cfmakeraw(&raw);
  if (::tcsetattr(fd.get(), TCSADRAIN, &raw) < 0) throw util::sys_error("tcsetattr {}", fd.get());
}

RawTerminal::~RawTerminal() { ::tcsetattr(fd_.get(), TCSADRAIN, &saved_); }

void send_fd(util::Fd socket, util::Fd fd) {
  char byte = 'F';
  struct iovec iov {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr message {};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  struct cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  int raw = fd.get();
  std::memcpy(CMSG_DATA(header), &raw, sizeof raw);
  if (::sendmsg(socket.get(), &message, MSG_NOSIGNAL) < 0) throw util::sys_error("sendmsg terminal");
}

util::UniqueFd receive_fd(util::Fd socket) {
  char byte = 0;
  struct iovec iov {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr message {};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(socket.get(), &message, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) throw util::sys_error("recvmsg terminal");
  if (n == 0) return {};
  for (struct cmsghdr* header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      int raw = -1;
      std::memcpy(&raw, CMSG_DATA(header), sizeof raw);
      return util::UniqueFd{util::adopt, raw};
    }
  }
  return {};
}

void copy_window_size(util::Fd from, util::Fd to) noexcept {
  struct winsize size {};
  if (::ioctl(from.get(), TIOCGWINSZ, &size) == 0) ::ioctl(to.get(), TIOCSWINSZ, &size);
}

int supervise(const Supervised& child) {
  char buffer[16384];
  // One read and its copy; false at EOF or an error (EIO from a pty whose slave closed).
  // A failed write (a closed stdout) must not end the supervision.
  auto pump = [&buffer](util::Fd from, util::Fd to) {
    ssize_t n = ::read(from.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    try {
      util::write_all(to, std::string_view(buffer, static_cast<std::size_t>(n)));
    } catch (const std::exception&) {
    }
    return true;
  };
  util::Fd master = child.master;
  bool master_open = static_cast<bool>(master);
  bool read_stdin = master_open && child.copy_stdin;
  for (;;) {
    struct pollfd fds[3] = {{child.signals.get(), POLLIN, 0}, {master_open ? master.get() : -1, POLLIN, 0},
                            {read_stdin ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      throw util::sys_error("poll");
    }
    if (fds[1].revents) master_open = pump(master, util::Fd(STDOUT_FILENO));
    if (fds[2].revents && !pump(util::Fd(STDIN_FILENO), master)) read_stdin = false;
    if (!(fds[0].revents & POLLIN)) continue;
    struct signalfd_siginfo info {};
    if (::read(child.signals.get(), &info, sizeof info) != sizeof info) continue;
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) {
      auto status = child.reap();
      if (!status) continue;
      while (master_open) {
        struct pollfd p = {master.get(), POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) break;
        master_open = pump(master, util::Fd(STDOUT_FILENO));
      }
      return *status;
    }
    // With a terminal, the kernel itself signals the foreground group on a resize.
    if (sig == SIGWINCH) {
      if (master) copy_window_size(util::Fd(STDIN_FILENO), master);
    } else {
      child.forward(sig);
    }
  }
}

}  // namespace kiln::runtime
