// A container's configuration and state as the runtime keeps them: what
// create decided (ContainerConfig, fixed afterwards) and what happened since
// (ContainerState), both inside the store's ContainerRecord.state JSON, plus the
// files the runtime keeps in store.container_dir(id). Every command that acts
// on a container (run, start, ps, rm, logs, stop, kill, wait, exec, diff,
// export, commit) reads them through this header.
//
// containers/<id>/ (the container dir):
//   container.json  the store's record; record.state = {"config": ContainerConfig,
//                   "state": ContainerState} (see to_json below for field names)
//   upper/ work/    the rw layer for overlay and fuse-overlayfs (upper holds the diff
//                   in the formats snapshot.hpp describes)
//   rootfs/         vfs only: the full writable copy (made at create)
//   merged/         overlay drivers: the mount point while the container runs. The
//                   mount lives in the MONITOR's mount namespace only (kiln's userns is
//                   private to each invocation): another kiln process sees an empty dir.
//                   Reach a running container's tree via /proc/<pid>/root, its namespaces
//                   via /proc/<pid>/ns/{user,mnt,pid,uts,ipc,net} (setns the user one first).
//   ctr.log         stdout and stderr in podman's k8s-file format, one line per record:
//                   "<RFC3339Nano time> <stdout|stderr> <F|P> <text>\n" (P: a partial line
//                   continued by the next record; F: the line ended). tty containers log
//                   everything as stdout.
//   hosts hostname resolv.conf   generated files bind-mounted over /etc/...
//
// Pids are host pids (kiln's userns has no pid namespace of its own, so they are the
// same in every later invocation). A pid is trusted only together with its start time
// (field 22 of /proc/<pid>/stat): process_alive() checks both.
//
// Concurrency: every change goes through update_state(), which holds the store's write
// lock only while re-reading the record, applying the change and publishing it
// atomically (Store::update_container renames a staged file). Never hold it while
// waiting for a process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/container_spec.hpp"
#include "store/store.hpp"
#include "util/json.hpp"

namespace kiln::runtime {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

/// A volume as the user asked for it; prepare turns each into a MountSpec at start.
struct VolumeConfig {
  enum class Kind { bind, named, anonymous, tmpfs };
  Kind kind = Kind::bind;
  std::string source;       ///< bind: host path; named/anonymous: the volume name
  std::string destination;  ///< absolute path inside the container
  bool read_only = false;
  std::string options;      ///< tmpfs: mount options
};

/// What create decided; never changes afterwards.
struct ContainerConfig {
  std::string image_name;               ///< as the user typed it (ps IMAGE column)
  std::vector<std::string> entrypoint;  ///< effective, after --entrypoint
  std::vector<std::string> cmd;         ///< effective, after the command arguments
  std::string user;                     ///< USER spec, resolved at each start against the rootfs
  std::map<std::string, std::string> labels;
  std::vector<VolumeConfig> volumes;
  std::string driver;                   ///< snapshot driver of the rw layer
  bool auto_remove = false;             ///< --rm
  int stop_timeout = 10;                ///< seconds stop waits before SIGKILL
  /// Everything else the container process needs: args, env, cwd, hostname, caps,
  /// seccomp, tty, stdin_open, stop_signal, init, network, single_id, read_only_rootfs.
  /// rootfs and mounts are filled at each start; user holds the ids of the last start.
  ContainerSpec spec;
};

enum class ContainerStatus { created, running, exited };

/// What happened to the container; changes through update_state().
struct ContainerState {
  ContainerStatus status = ContainerStatus::created;
  pid_t pid = 0;                      ///< the container's init, host pid; 0 when not running
  std::uint64_t pid_start_time = 0;   ///< /proc/<pid>/stat field 22 of pid
  pid_t monitor_pid = 0;              ///< the process waiting for pid (kiln run or the monitor)
  std::uint64_t monitor_start_time = 0;
  int exit_code = 0;                  ///< Docker's status; valid when exited after a start
  std::optional<Clock::time_point> started_at;
  std::optional<Clock::time_point> finished_at;
  std::string error;                  ///< why the last start failed, if it did
  ContainerSpec last_spec;            ///< the spec of the running/last start (exec reuses it)
};

/// The fixed file names inside the container dir.
struct ContainerPaths {
  fs::path dir, upper, work, merged, vfs_rootfs, log;
  /// The directory the container's rootfs appears at for `driver`: merged or rootfs.
  fs::path rootfs(std::string_view driver) const { return driver == "vfs" ? vfs_rootfs : merged; }
};
ContainerPaths container_paths(const store::Store& store, std::string_view id);

/// "created", "running", "exited"; parse throws kiln::Error(corrupt).
std::string status_name(ContainerStatus status);
ContainerStatus parse_status(std::string_view name);

Json to_json(const ContainerSpec& spec);
ContainerSpec spec_from_json(const Json& json);
Json to_json(const ContainerConfig& config);
ContainerConfig config_from_json(const Json& json);
Json to_json(const ContainerState& state);
ContainerState state_from_json(const Json& json);

/// The config and state inside a record (defaults when absent); throw kiln::Error(corrupt).
ContainerConfig config_of(const store::ContainerRecord& record);
ContainerState state_of(const store::ContainerRecord& record);
/// Writes both into record.state (no I/O).
void set_state(store::ContainerRecord& record, const ContainerState& state);
void set_config(store::ContainerRecord& record, const ContainerConfig& config);

/// Re-reads the record under the store's write lock, lets change() modify its state and
/// publishes it atomically; returns the new record. Throws not_found when it is gone.
store::ContainerRecord update_state(store::Store& store, std::string_view id,
                                    const std::function<void(ContainerState&)>& change);

/// /proc/<pid>/stat field 22 (start time in clock ticks since boot); nullopt when gone.
std::optional<std::uint64_t> process_start_time(pid_t pid);
/// True when pid exists and started at start_time (not a reused pid); zombies count as gone.
bool process_alive(pid_t pid, std::uint64_t start_time);

/// A container recorded running whose monitor is gone (kill -9 of kiln or of the monitor:
/// nobody will record its end) gets its init killed if still alive and becomes exited
/// (code 137), or is removed when auto_remove.
/// Returns the refreshed record, nullopt when it was removed. Cheap: no lock unless stale.
std::optional<store::ContainerRecord> reconcile(store::Store& store, store::ContainerRecord record);

}  // namespace kiln::runtime
