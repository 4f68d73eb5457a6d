// kill, stop and wait: signals go straight to the container's init when the
// host allows it, else from a child that joined the container's user namespace
// (an init running as a subordinate id is not ours to signal from the host);
// waiting blocks in poll(2) on a pidfd of the process that records the exit.
#include "runtime/stop.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "runtime/create.hpp"
#include "runtime/lifecycle.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kiln::runtime {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// kill(2) from a child inside the container's user namespace, where "root" may signal
/// any of the container's processes. Returns the errno of that kill, 0 on success.
int kill_from_userns(pid_t pid, int sig) {
  util::UniqueFd ns = util::try_open_read(fmt::format("/proc/{}/ns/user", pid));
  if (!ns) return ESRCH;
  pid_t child = ::fork();
  if (child < 0) throw util::sys_error("fork to signal {}", pid);
  if (child == 0) {
    if (::setns(ns.get(), CLONE_NEWUSER) < 0) ::_exit(errno & 0xff);
    ::_exit(::kill(pid, sig) < 0 ? (errno & 0xff) : 0);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) throw util::sys_error("waitpid {}", child);
  return WIFEXITED(status) ? WEXITSTATUS(status) : EPERM;
}

/// A pidfd for pid if it is still the process that started at start_time.
util::UniqueFd open_pidfd(pid_t pid, std::uint64_t start_time) {
  if (pid <= 0) return {};
  util::UniqueFd fd{util::adopt, static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))};
  // Checked after opening: the pidfd then surely refers to the recorded process.
  if (!fd || !process_alive(pid, start_time)) return {};
  return fd;
}

}  // namespace

bool signal_process(pid_t pid, std::uint64_t start_time, int sig) {
  // A pidfd pins the process: the start-time check below then holds for the signal too.
  util::UniqueFd fd = open_pidfd(pid, start_time);
  if (!fd) return false;
  if (::syscall(SYS_pidfd_send_signal, fd.get(), sig, nullptr, 0) == 0) return true;
  int error = errno;
  if (error == EPERM) error = kill_from_userns(pid, sig);
  if (error == ESRCH) return false;
  if (error != 0) throw util::sys_error_code(error, "kill pid {} with {}", pid, signal_name(sig));
  return true;
}

void kill_container(const store::ContainerRecord& record, int sig) {
  auto state = state_of(record);
  auto not_running = [&] { return Error(fmt::format("container {} is not running", record.name), ErrorKind::conflict); };
  if (state.status != ContainerStatus::running) throw not_running();
  try {
    if (!signal_process(state.pid, state.pid_start_time, sig)) throw not_running();
  } catch (const std::system_error&) {
    util::rethrow_with("kill {}", record.name);
  }
}

std::optional<int> wait_container(store::Store& store, std::string_view id, std::optional<milliseconds> timeout) {
  std::optional<Steady::time_point> deadline;
  if (timeout) deadline = Steady::now() + *timeout;
  milliseconds backoff{10};
  for (;;) {
    auto record = reconciled(store, id);
    auto state = state_of(record);
    if (state.status == ContainerStatus::exited) return state.exit_code;
    milliseconds remaining{1000};
    if (deadline) {
      auto left = std::chrono::duration_cast<milliseconds>(*deadline - Steady::now());
      if (left <= milliseconds{0}) return std::nullopt;
      remaining = std::min(remaining, left);
    }
    if (state.status == ContainerStatus::running) {
      // The recorder exits only after writing the exit code: wait for it, else the init.
      util::UniqueFd fd = open_pidfd(state.monitor_pid, state.monitor_start_time);
      if (!fd) fd = open_pidfd(state.pid, state.pid_start_time);
      if (fd) {
        struct pollfd p = {fd.get(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(remaining.count())) < 0 && errno != EINTR) throw util::sys_error("poll pidfd");
        backoff = milliseconds{10};
        continue;
      }
    }
    // Created (not started yet), or the record is changing hands right now.
    std::this_thread::sleep_for(std::min(backoff, remaining));
    backoff = std::min(backoff * 2, milliseconds{500});
  }
}

std::optional<int> stop_container(store::Store& store, const store::ContainerRecord& record,
                                  std::optional<int> timeout_seconds) {
  auto state = state_of(record);
  if (state.status != ContainerStatus::running) return std::nullopt;
  auto config = config_of(record);
  int sig = config.spec.stop_signal > 0 ? config.spec.stop_signal : SIGTERM;
  int timeout = std::max(0, timeout_seconds.value_or(config.stop_timeout));
  auto signal = [&](int s) {
    try {
      kill_container(record, s);
    } catch (const std::exception& e) {
      if (util::kind_of(e) != ErrorKind::conflict) throw;  // already gone: wait collects it
    }
  };
  if (timeout > 0) {
    signal(sig);
    if (auto code = wait_container(store, record.id, std::chrono::seconds(timeout))) return code;
    util::warn("StopSignal {} failed to stop container {} in {} seconds, resorting to SIGKILL", signal_name(sig),
               record.name, timeout);
  }
  signal(SIGKILL);
  if (auto code = wait_container(store, record.id, std::chrono::seconds(30))) return code;
  fail("container {} did not exit 30 seconds after SIGKILL", record.name);
}

}  // namespace kiln::runtime
