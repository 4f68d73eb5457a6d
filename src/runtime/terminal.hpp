// Terminals for `run -t`: the pty master travels from the container (which opens
// it in its own devpts) to kiln over a unix socket; kiln puts the host terminal
// in raw mode for the session and passes the window size on. supervise() is the
// foreground loop `exec` and runtime::run share.
#pragma once

#include <termios.h>

#include <functional>
#include <optional>

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

/// A foreground child as supervise() sees it.
struct Supervised {
  util::Fd signals;         ///< a signalfd for the forwarded signals and SIGCHLD
  util::Fd master;          ///< the pty master; empty without a terminal
  bool copy_stdin = false;  ///< our stdin goes to the master
  std::function<std::optional<int>()> reap;  ///< the exit status once the child is gone
  std::function<void(int)> forward;          ///< passes a signal on to the child
};

/// Copies the master to stdout (and stdin to the master), forwards signals and window
/// size changes, until reap() gives a status; drains what the child wrote before it
/// exited and returns the status. Throws std::system_error when poll fails.
int supervise(const Supervised& child);

}  // namespace kiln::runtime
