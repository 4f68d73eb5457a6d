// Terminals for `run -t`: the pty master travels from the container (which opens
// it in its own devpts) to kiln over a unix socket; kiln puts the host terminal
// in raw mode for the session and passes the window size on.
#pragma once

#include <termios.h>

#include "util/fd.hpp"

namespace kiln::runtime {

/// Puts a terminal in raw mode for its lifetime and restores the saved mode after.
class RawTerminal {
public:
  /// Throws std::system_error when fd is not a terminal.
  explicit RawTerminal(util::Fd fd);
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  ~RawTerminal();

private:
  util::Fd fd_;
  struct termios saved_ {};
};

/// Sends one descriptor over a unix socket (SCM_RIGHTS); throws.
void send_fd(util::Fd socket, util::Fd fd);
/// Receives one descriptor sent by send_fd; an empty UniqueFd when the peer closed first.
util::UniqueFd receive_fd(util::Fd socket);
/// Copies the window size of terminal `from` to `to` (TIOCGWINSZ/TIOCSWINSZ); no-op when
/// `from` is not a terminal.
void copy_window_size(util::Fd from, util::Fd to) noexcept;

}  // namespace kiln::runtime
