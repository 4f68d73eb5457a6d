// Signals and waits for a running container from another kiln process: kill
// (any signal to the container's init), stop (the stop signal, then SIGKILL
// after a timeout) and wait (until the record says exited). The container's
// init is a host pid checked with its start time; waiting uses a pidfd on the
// process that records the exit (the monitor, or the foreground `kiln run`), so
// nothing spins. These run in the host's namespaces (no userns::enter needed).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "runtime/container_record.hpp"
#include "store/store.hpp"

namespace kiln::runtime {

/// Sends sig to the container's init. An init without a handler for sig ignores it
/// (pid 1 of a pid namespace), except SIGKILL and SIGSTOP. Throws conflict
/// "container X is not running", std::system_error from kill(2).
void kill_container(const store::ContainerRecord& record, int sig);

/// Sends sig to pid if it is still the process that started at start_time (from inside
/// its user namespace when the host refuses). False when it is gone; throws
/// std::system_error for another failure.
bool signal_process(pid_t pid, std::uint64_t start_time, int sig);

/// Waits until the container's record says exited (reconciling a dead monitor) and returns
/// that record's exit code; nullopt when timeout passed first. A created container is
/// waited for until it has run. Throws not_found when the record disappears (--rm).
std::optional<int> wait_container(store::Store& store, std::string_view id,
                                  std::optional<std::chrono::milliseconds> timeout = std::nullopt);

/// Stops a running container: its stop signal (--stop-signal or the image's STOPSIGNAL,
/// SIGTERM by default), then SIGKILL after timeout_seconds (default: the container's
/// stop timeout), and waits for the recorded exit. A container that is not running is
/// left alone. Returns the exit code when it was running.
std::optional<int> stop_container(store::Store& store, const store::ContainerRecord& record,
                                  std::optional<int> timeout_seconds = std::nullopt);

}  // namespace kiln::runtime
