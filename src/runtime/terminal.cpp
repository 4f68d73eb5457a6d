// Raw mode, descriptor passing and window sizes for container terminals.
#include "runtime/terminal.hpp"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "util/error.hpp"

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

}  // namespace kiln::runtime
