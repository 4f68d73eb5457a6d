// `kiln logs`: the container's k8s-file log (container_log.hpp) printed back as
// the container wrote it, stdout records to one descriptor and stderr records to
// the other, with --tail, --since, --timestamps, and --follow until the
// container exits (inotify on the log, a pidfd on its monitor).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

#include "runtime/container_record.hpp"
#include "store/store.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

struct LogOptions {
  bool follow = false;
  bool timestamps = false;              ///< prefix each line with its record's time
  std::optional<std::size_t> tail;      ///< only the last N lines
  std::optional<Clock::time_point> since;
  std::optional<Clock::time_point> until;
};

/// --since/--until values as podman takes them: RFC 3339 ("2024-01-02T03:04:05Z"), a
/// duration before now ("10m", "1h30m", "90s"), or Unix seconds ("1700000000[.5]").
/// Throws invalid_input.
Clock::time_point parse_log_time(std::string_view text, Clock::time_point now);

/// Prints the container's log; with follow, keeps printing until the container is no
/// longer running. Throws when the log cannot be read (a missing log is empty).
void print_logs(store::Store& store, const store::ContainerRecord& record, const LogOptions& options,
                util::Fd out, util::Fd err);

}  // namespace kiln::runtime
