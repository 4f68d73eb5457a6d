// One run of a container, from mount to exit, in the process that waits for it:
// `kiln run` in the foreground, or the detached monitor (`kiln container-monitor`)
// with the output going to the log. It records running (pids with start times),
// forwards signals, copies the terminal or the output, records the exit, unmounts
// and honours --rm. A guard child kills the container and detaches the rootfs
// if this process dies without finishing (kill -9), so nothing is left mounted.
#pragma once

#include <string>

#include "store/store.hpp"

namespace kiln::runtime {

struct SessionOptions {
  /// Output to the container's log (k8s-file), stdin /dev/null; else this process's stdio.
  bool detached = false;
  /// Written once, then closed: "ok" when the container runs, else
  /// "<ErrorKind as int> <one-line error>".
  int ready_fd = -1;
};

/// Runs the created or exited container `id` to its end; returns Docker's exit status.
/// Throws kiln::Error (command_not_found, not_executable, conflict when it is running)
/// when it cannot start; the record then holds the error.
int run_session(store::Store& store, const std::string& id, const SessionOptions& options);
/// The same for a record the caller just read or wrote (kiln run, start -a): not read again.
int run_session(store::Store& store, store::ContainerRecord record, const SessionOptions& options);

}  // namespace kiln::runtime
