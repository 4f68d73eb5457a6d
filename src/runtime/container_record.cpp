// The container's config and state in and out of JSON, atomic state updates
// under the store's write lock, and pid liveness with start-time checks so a
// reused pid is never mistaken for the container.
#include "runtime/container_record.hpp"

#include <chrono>
#include <csignal>
#include <thread>

#include "runtime/lifecycle.hpp"
#include "runtime/stop.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::runtime {
namespace {

template <typename T>
T value_or(const Json& json, const char* key, T fallback) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return fallback;
  return it->get<T>();
}

std::vector<std::string> strings(const Json& json, const char* key) {
  return value_or<std::vector<std::string>>(json, key, {});
}

Json time_json(const std::optional<Clock::time_point>& t) {
  return t ? Json(util::rfc3339(*t)) : Json(nullptr);
}

std::optional<Clock::time_point> time_from(const Json& json, const char* key) {
  auto it = json.find(key);
  if (it == json.end() || !it->is_string()) return std::nullopt;
  return util::parse_rfc3339(it->get<std::string>());
}

const char* seccomp_mode_name(SeccompChoice::Mode mode) {
  switch (mode) {
    case SeccompChoice::Mode::unconfined: return "unconfined";
    case SeccompChoice::Mode::profile_file: return "file";
    case SeccompChoice::Mode::default_profile: break;
  }
  return "default";
}

const char* volume_kind_name(VolumeConfig::Kind kind) {
  switch (kind) {
    case VolumeConfig::Kind::named: return "named";
    case VolumeConfig::Kind::anonymous: return "anonymous";
    case VolumeConfig::Kind::tmpfs: return "tmpfs";
    case VolumeConfig::Kind::bind: break;
  }
  return "bind";
}

VolumeConfig::Kind parse_volume_kind(const std::string& name) {
  if (name == "named") return VolumeConfig::Kind::named;
  if (name == "anonymous") return VolumeConfig::Kind::anonymous;
  if (name == "tmpfs") return VolumeConfig::Kind::tmpfs;
  return VolumeConfig::Kind::bind;
}

}  // namespace

ContainerPaths container_paths(const store::Store& store, std::string_view id) {
  ContainerPaths p;
  p.dir = store.container_dir(id);
  p.upper = p.dir / "upper";
  p.work = p.dir / "work";
  p.merged = p.dir / "merged";
  p.vfs_rootfs = p.dir / "rootfs";
  p.log = p.dir / "ctr.log";
  return p;
}

std::string status_name(ContainerStatus status) {
  switch (status) {
    case ContainerStatus::running: return "running";
    case ContainerStatus::exited: return "exited";
    case ContainerStatus::created: break;
  }
  return "created";
}

ContainerStatus parse_status(std::string_view name) {
  if (name == "created") return ContainerStatus::created;
  if (name == "running") return ContainerStatus::running;
  if (name == "exited") return ContainerStatus::exited;
  fail(ErrorKind::corrupt, "unknown container status \"{}\"", name);
}

Json to_json(const ContainerSpec& spec) {
  Json mounts = Json::array();
  for (const auto& m : spec.mounts)
    mounts.push_back({{"type", m.type == MountSpec::Type::tmpfs ? "tmpfs" : "bind"},
                      {"source", m.source},
                      {"destination", m.destination},
                      {"read_only", m.read_only},
                      {"options", m.options}});
  return Json{
      {"rootfs", spec.rootfs},
      {"args", spec.args},
      {"env", spec.env},
      {"cwd", spec.cwd},
      {"user", {{"uid", spec.user.uid}, {"gid", spec.user.gid}, {"groups", spec.user.groups}}},
      {"hostname", spec.hostname},
      {"mounts", mounts},
      {"read_only_rootfs", spec.read_only_rootfs},
      {"cap_add", spec.capabilities.add},
      {"cap_drop", spec.capabilities.drop},
      {"seccomp", {{"mode", seccomp_mode_name(spec.seccomp.mode)}, {"path", spec.seccomp.path}}},
      {"no_new_privileges", spec.no_new_privileges},
      {"network", spec.network == NetworkMode::host ? "host" : "none"},
      {"tty", spec.tty},
      {"stdin_open", spec.stdin_open},
      {"stop_signal", spec.stop_signal},
      {"init", spec.init},
      {"single_id", spec.single_id},
  };
}

ContainerSpec spec_from_json(const Json& json) {
  ContainerSpec spec;
  if (!json.is_object()) return spec;
  spec.rootfs = value_or<std::string>(json, "rootfs", "");
  spec.args = strings(json, "args");
  spec.env = strings(json, "env");
  spec.cwd = value_or<std::string>(json, "cwd", "/");
  if (auto it = json.find("user"); it != json.end() && it->is_object()) {
    spec.user.uid = value_or<uid_t>(*it, "uid", 0);
    spec.user.gid = value_or<gid_t>(*it, "gid", 0);
    spec.user.groups = value_or<std::vector<gid_t>>(*it, "groups", {});
  }
  spec.hostname = value_or<std::string>(json, "hostname", "");
  if (auto it = json.find("mounts"); it != json.end() && it->is_array()) {
    for (const auto& m : *it) {
      MountSpec mount;
      mount.type = value_or<std::string>(m, "type", "bind") == "tmpfs" ? MountSpec::Type::tmpfs : MountSpec::Type::bind;
      mount.source = value_or<std::string>(m, "source", "");
      mount.destination = value_or<std::string>(m, "destination", "");
      mount.read_only = value_or<bool>(m, "read_only", false);
      mount.options = value_or<std::string>(m, "options", "");
      spec.mounts.push_back(std::move(mount));
    }
  }
  spec.read_only_rootfs = value_or<bool>(json, "read_only_rootfs", false);
  spec.capabilities.add = strings(json, "cap_add");
  spec.capabilities.drop = strings(json, "cap_drop");
  if (auto it = json.find("seccomp"); it != json.end() && it->is_object()) {
    auto mode = value_or<std::string>(*it, "mode", "default");
    spec.seccomp.mode = mode == "unconfined" ? SeccompChoice::Mode::unconfined
                        : mode == "file"     ? SeccompChoice::Mode::profile_file
                                             : SeccompChoice::Mode::default_profile;
    spec.seccomp.path = value_or<std::string>(*it, "path", "");
  }
  spec.no_new_privileges = value_or<bool>(json, "no_new_privileges", false);
  spec.network = value_or<std::string>(json, "network", "none") == "host" ? NetworkMode::host : NetworkMode::none;
  spec.tty = value_or<bool>(json, "tty", false);
  spec.stdin_open = value_or<bool>(json, "stdin_open", false);
  spec.stop_signal = value_or<int>(json, "stop_signal", SIGTERM);
  spec.init = value_or<bool>(json, "init", false);
  spec.single_id = value_or<bool>(json, "single_id", false);
  return spec;
}

Json to_json(const ContainerConfig& config) {
  Json volumes = Json::array();
  for (const auto& v : config.volumes)
    volumes.push_back({{"kind", volume_kind_name(v.kind)},
                       {"source", v.source},
                       {"destination", v.destination},
                       {"read_only", v.read_only},
                       {"options", v.options}});
  return Json{
      {"image_name", config.image_name}, {"entrypoint", config.entrypoint}, {"cmd", config.cmd},
      {"user", config.user},             {"labels", config.labels},         {"volumes", volumes},
      {"driver", config.driver},         {"auto_remove", config.auto_remove},
      {"stop_timeout", config.stop_timeout}, {"spec", to_json(config.spec)},
  };
}

ContainerConfig config_from_json(const Json& json) {
  ContainerConfig config;
  if (!json.is_object()) return config;
  try {
    config.image_name = value_or<std::string>(json, "image_name", "");
    config.entrypoint = strings(json, "entrypoint");
    config.cmd = strings(json, "cmd");
    config.user = value_or<std::string>(json, "user", "");
    config.labels = value_or<std::map<std::string, std::string>>(json, "labels", {});
    if (auto it = json.find("volumes"); it != json.end() && it->is_array()) {
      for (const auto& v : *it) {
        VolumeConfig volume;
        volume.kind = parse_volume_kind(value_or<std::string>(v, "kind", "bind"));
        volume.source = value_or<std::string>(v, "source", "");
        volume.destination = value_or<std::string>(v, "destination", "");
        volume.read_only = value_or<bool>(v, "read_only", false);
        volume.options = value_or<std::string>(v, "options", "");
        config.volumes.push_back(std::move(volume));
      }
    }
    config.driver = value_or<std::string>(json, "driver", "");
    config.auto_remove = value_or<bool>(json, "auto_remove", false);
    config.stop_timeout = value_or<int>(json, "stop_timeout", 10);
    if (auto it = json.find("spec"); it != json.end()) config.spec = spec_from_json(*it);
  } catch (const Json::exception& e) {
    fail(ErrorKind::corrupt, "container config: {}", e.what());
  }
  return config;
}

Json to_json(const ContainerState& state) {
  return Json{
      {"status", status_name(state.status)},
      {"pid", state.pid},
      {"pid_start_time", state.pid_start_time},
      {"monitor_pid", state.monitor_pid},
      {"monitor_start_time", state.monitor_start_time},
      {"exit_code", state.exit_code},
      {"started_at", time_json(state.started_at)},
      {"finished_at", time_json(state.finished_at)},
      {"error", state.error},
      {"last_spec", to_json(state.last_spec)},
  };
}

ContainerState state_from_json(const Json& json) {
  ContainerState state;
  if (!json.is_object()) return state;
  try {
    state.status = parse_status(value_or<std::string>(json, "status", "created"));
    state.pid = value_or<pid_t>(json, "pid", 0);
    state.pid_start_time = value_or<std::uint64_t>(json, "pid_start_time", 0);
    state.monitor_pid = value_or<pid_t>(json, "monitor_pid", 0);
    state.monitor_start_time = value_or<std::uint64_t>(json, "monitor_start_time", 0);
    state.exit_code = value_or<int>(json, "exit_code", 0);
    state.started_at = time_from(json, "started_at");
    state.finished_at = time_from(json, "finished_at");
    state.error = value_or<std::string>(json, "error", "");
    if (auto it = json.find("last_spec"); it != json.end()) state.last_spec = spec_from_json(*it);
  } catch (const Json::exception& e) {
    fail(ErrorKind::corrupt, "container state: {}", e.what());
  }
  return state;
}

ContainerConfig config_of(const store::ContainerRecord& record) {
  auto it = record.state.find("config");
  return it == record.state.end() ? ContainerConfig{} : config_from_json(*it);
}

ContainerState state_of(const store::ContainerRecord& record) {
  auto it = record.state.find("state");
  return it == record.state.end() ? ContainerState{} : state_from_json(*it);
}

void set_state(store::ContainerRecord& record, const ContainerState& state) {
  if (!record.state.is_object()) record.state = Json::object();
  record.state["state"] = to_json(state);
}

void set_config(store::ContainerRecord& record, const ContainerConfig& config) {
  if (!record.state.is_object()) record.state = Json::object();
  record.state["config"] = to_json(config);
}

store::ContainerRecord update_state(store::Store& store, std::string_view id,
                                    const std::function<void(ContainerState&)>& change) {
  auto lock = store.write_lock();
  auto record = store.container(id);
  auto state = state_of(record);
  change(state);
  set_state(record, state);
  // A --rm container's record lives for one run: no fsyncs for its state changes.
  store.update_container(record, !config_of(record).auto_remove);
  return record;
}

std::optional<std::uint64_t> process_start_time(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto text = util::try_read_file(fmt::format("/proc/{}/stat", pid));
  if (!text) return std::nullopt;
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  auto fields = util::split(std::string_view(*text).substr(close + 2), ' ');
  // fields[0] is field 3 (state); field 22 is fields[19].
  if (fields.size() < 20) return std::nullopt;
  if (fields[0] == "Z" || fields[0] == "X") return std::nullopt;
  try {
    return std::stoull(fields[19]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool process_alive(pid_t pid, std::uint64_t start_time) {
  auto current = process_start_time(pid);
  return current && (start_time == 0 || *current == start_time);
}

std::optional<store::ContainerRecord> reconcile(store::Store& store, store::ContainerRecord record) {
  auto state = state_of(record);
  if (state.status != ContainerStatus::running) return record;
  if (process_alive(state.monitor_pid, state.monitor_start_time)) return record;
  // The process that records the end is gone (kill -9 of kiln or of the monitor), so
  // nobody will record it. The init dies with it (its parent-death signal, or the guard
  // under fuse-overlayfs), unless a set-user-ID command cleared that signal or the guard
  // was killed as well: make sure, and give the init a moment to go before the record
  // says exited.
  try {
    if (signal_process(state.pid, state.pid_start_time, SIGKILL))
      for (int i = 0; i < 100 && process_alive(state.pid, state.pid_start_time); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } catch (const std::exception& e) {
    util::warn("container {}: {}", record.name, util::describe(e));
  }
  if (config_of(record).auto_remove) {
    try {
      remove_container(store, record, true);
    } catch (const std::exception&) {
      // Someone else removed it first.
    }
    return std::nullopt;
  }
  try {
    return update_state(store, record.id, [&](ContainerState& s) {
      // Restarted (or finished) since we looked: not stale any more.
      if (s.status != ContainerStatus::running || s.monitor_pid != state.monitor_pid) return;
      s.status = ContainerStatus::exited;
      s.exit_code = 137;
      s.pid = 0;
      s.monitor_pid = 0;
      if (!s.finished_at) s.finished_at = Clock::now();
    });
  } catch (const std::exception& e) {
    if (util::is_not_found(e)) return std::nullopt;
    throw;
  }
}

}  // namespace kiln::runtime
