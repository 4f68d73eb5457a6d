// `kiln ps` (container ls), `kiln rm` (container rm) and `kiln container inspect`:
// the container records read, stale running records fixed first (a container
// whose monitor and init died is exited), and printed as podman prints them.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/command.hpp"
#include "cli/context.hpp"
#include "cli/format.hpp"
#include "runtime/container_record.hpp"
#include "runtime/create.hpp"
#include "runtime/lifecycle.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::cli {
namespace {

using runtime::ContainerStatus;

std::string quote_command(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    if (!out.empty()) out += ' ';
    out += a.find_first_of(" \t\"'") == std::string::npos && !a.empty() ? a : "'" + a + "'";
  }
  return out;
}

std::string status_text(const runtime::ContainerState& s) {
  auto now = std::chrono::system_clock::now();
  auto strip_ago = [](std::string text) { return text.substr(0, text.size() - 4); };
  switch (s.status) {
    case ContainerStatus::running:
      return "Up " + strip_ago(util::human_ago(s.started_at.value_or(now), now));
    case ContainerStatus::exited:
      return fmt::format("Exited ({}) {}", s.exit_code, util::human_ago(s.finished_at.value_or(now), now));
    case ContainerStatus::created:
      break;
  }
  return "Created";
}

Json ps_row(const store::ContainerRecord& record, bool no_trunc) {
  auto config = runtime::config_of(record);
  auto state = runtime::state_of(record);
  std::string command = quote_command(config.spec.args);
  if (!no_trunc && command.size() > 20) command = command.substr(0, 17) + "...";
  auto created = util::human_ago(record.created);
  return Json{
      {"ID", no_trunc ? record.id : record.id.substr(0, 12)},
      {"Id", record.id},
      {"Image", config.image_name},
      {"ImageID", record.image_id.hex()},
      {"Command", command},
      {"Created", created},
      {"CreatedAt", util::rfc3339(record.created)},
      {"Status", status_text(state)},
      {"State", runtime::status_name(state.status)},
      {"Ports", ""},
      {"Names", record.name},
      {"Pid", state.pid},
      {"ExitCode", state.exit_code},
      {"Exited", state.status == ContainerStatus::exited},
      {"Labels", config.labels},
      {"AutoRemove", config.auto_remove},
  };
}

bool matches(const store::ContainerRecord& record, const std::vector<std::string>& filters) {
  auto config = runtime::config_of(record);
  auto state = runtime::state_of(record);
  for (const auto& f : filters) {
    auto kv = util::split_once(f, '=');
    if (!kv) fail(ErrorKind::invalid_input, "invalid filter \"{}\": want KEY=VALUE", f);
    const auto& [key, value] = *kv;
    if (key == "status") {
      if (runtime::status_name(state.status) != value) return false;
    } else if (key == "name") {
      if (record.name.find(value) == std::string::npos) return false;
    } else if (key == "id") {
      if (!record.id.starts_with(value)) return false;
    } else if (key == "ancestor") {
      if (config.image_name != value && !record.image_id.hex().starts_with(value) && record.image_id.str() != value)
        return false;
    } else if (key == "label") {
      auto lkv = util::split_once(value, '=');
      auto it = config.labels.find(lkv ? lkv->first : value);
      if (it == config.labels.end() || (lkv && it->second != lkv->second)) return false;
    } else {
      fail(ErrorKind::invalid_input, "invalid filter \"{}\": unknown key \"{}\"", f, key);
    }
  }
  return true;
}

int run_ps(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  bool all = args.flag("all");
  auto filters = args.all("filter");
  std::vector<Json> rows;
  for (const auto& record : runtime::reconcile_all(store)) {
    if (!all && filters.empty() && runtime::state_of(record).status != ContainerStatus::running) continue;
    if (!matches(record, filters)) continue;
    rows.push_back(ps_row(record, args.flag("no-trunc")));
  }
  std::reverse(rows.begin(), rows.end());  // newest first, as podman
  if (args.flag("quiet")) {
    for (const auto& row : rows) std::cout << row["ID"].get<std::string>() << "\n";
    return 0;
  }
  Listing listing{{"ID", "Image", "Command", "Created", "Status", "Ports", "Names"}, {{"ID", "CONTAINER ID"}}};
  std::cout << render_listing(rows, args.get_or("format", ""), listing);
  return 0;
}

// Kills a running container and waits for its monitor to record the end.
void kill_and_wait(const store::ContainerRecord& record) {
  auto state = runtime::state_of(record);
  if (runtime::process_alive(state.pid, state.pid_start_time)) ::kill(state.pid, SIGKILL);
  for (int i = 0; i < 1000; ++i) {
    bool monitor = runtime::process_alive(state.monitor_pid, state.monitor_start_time);
    bool init = runtime::process_alive(state.pid, state.pid_start_time);
    if (!monitor && !init) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int run_rm(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  int status = 0;
  for (const auto& name : args.positional()) {
    try {
      auto found = store.find_container(name);
      if (!found) fail(ErrorKind::not_found, "no such container: {}", name);
      auto record = runtime::reconcile(store, std::move(*found));
      if (!record) {  // a --rm container that ended: gone already
        std::cout << name << "\n";
        continue;
      }
      if (runtime::state_of(*record).status == ContainerStatus::running) {
        if (!args.flag("force"))
          fail(ErrorKind::conflict,
               "cannot remove container {} as it is running - running or paused containers cannot be removed "
               "without force: container state improper",
               record->id);
        kill_and_wait(*record);
        auto again = store.find_container(record->id);
        if (!again) {  // its monitor removed it (--rm)
          std::cout << name << "\n";
          continue;
        }
        record = runtime::reconcile(store, std::move(*again));
        if (!record) {
          std::cout << name << "\n";
          continue;
        }
      }
      runtime::remove_container(store, *record, args.flag("volumes"));
      std::cout << name << "\n";
    } catch (const std::exception& e) {
      if (args.flag("ignore") && util::is_not_found(e)) continue;
      std::cerr << "kiln: rm " << name << ": " << util::describe(e) << "\n";
      if (status == 0) status = util::is_not_found(e) ? 1 : 125;
      else if (!util::is_not_found(e)) status = 125;
    }
  }
  return status;
}

OrderedJson inspect_json(const store::Store& store, const store::ContainerRecord& record) {
  auto config = runtime::config_of(record);
  auto state = runtime::state_of(record);
  const auto& spec = config.spec;
  auto time_or_zero = [](const std::optional<std::chrono::system_clock::time_point>& t) {
    return t ? util::rfc3339(*t) : std::string("0001-01-01T00:00:00Z");
  };
  OrderedJson mounts = OrderedJson::array();
  for (const auto& v : config.volumes) {
    OrderedJson m;
    switch (v.kind) {
      case runtime::VolumeConfig::Kind::bind:
        m["Type"] = "bind";
        m["Source"] = v.source;
        break;
      case runtime::VolumeConfig::Kind::tmpfs:
        m["Type"] = "tmpfs";
        m["Source"] = "tmpfs";
        break;
      case runtime::VolumeConfig::Kind::named:
      case runtime::VolumeConfig::Kind::anonymous:
        m["Type"] = "volume";
        m["Name"] = v.source;
        m["Source"] = runtime::volume_dir(store, v.source).string();
        break;
    }
    m["Destination"] = v.destination;
    m["RW"] = !v.read_only;
    mounts.push_back(std::move(m));
  }
  auto paths = runtime::container_paths(store, record.id);
  OrderedJson out;
  out["Id"] = record.id;
  out["Created"] = util::rfc3339(record.created);
  out["Path"] = spec.args.empty() ? "" : spec.args[0];
  out["Args"] = spec.args.size() > 1 ? std::vector<std::string>(spec.args.begin() + 1, spec.args.end())
                                     : std::vector<std::string>{};
  out["State"] = {
      {"Status", runtime::status_name(state.status)},
      {"Running", state.status == ContainerStatus::running},
      {"Paused", false},
      {"Pid", state.pid},
      {"ExitCode", state.exit_code},
      {"Error", state.error},
      {"StartedAt", time_or_zero(state.started_at)},
      {"FinishedAt", time_or_zero(state.finished_at)},
  };
  out["Image"] = record.image_id.hex();
  out["ImageName"] = config.image_name;
  out["Rootfs"] = "";
  out["Name"] = record.name;
  out["Driver"] = config.driver;
  out["LogPath"] = paths.log.string();
  out["Mounts"] = mounts;
  OrderedJson cfg;
  cfg["Hostname"] = spec.hostname;
  cfg["User"] = config.user;
  cfg["Env"] = spec.env;
  cfg["Cmd"] = config.cmd;
  cfg["Entrypoint"] = config.entrypoint;
  cfg["WorkingDir"] = spec.cwd;
  cfg["Image"] = config.image_name;
  cfg["Labels"] = config.labels;
  cfg["StopSignal"] = runtime::signal_name(spec.stop_signal);
  cfg["StopTimeout"] = config.stop_timeout;
  cfg["Tty"] = spec.tty;
  cfg["OpenStdin"] = spec.stdin_open;
  out["Config"] = cfg;
  OrderedJson binds = OrderedJson::array();
  for (const auto& v : config.volumes)
    if (v.kind != runtime::VolumeConfig::Kind::tmpfs && v.kind != runtime::VolumeConfig::Kind::anonymous)
      binds.push_back(v.source + ":" + v.destination + (v.read_only ? ":ro" : ""));
  OrderedJson host;
  host["Binds"] = binds;
  host["NetworkMode"] = spec.network == runtime::NetworkMode::host ? "host" : "none";
  host["AutoRemove"] = config.auto_remove;
  host["CapAdd"] = spec.capabilities.add;
  host["CapDrop"] = spec.capabilities.drop;
  std::vector<std::string> security;
  if (spec.seccomp.mode == runtime::SeccompChoice::Mode::unconfined) security.push_back("seccomp=unconfined");
  if (spec.seccomp.mode == runtime::SeccompChoice::Mode::profile_file) security.push_back("seccomp=" + spec.seccomp.path);
  if (spec.no_new_privileges) security.push_back("no-new-privileges");
  host["SecurityOpt"] = security;
  host["ReadonlyRootfs"] = spec.read_only_rootfs;
  host["Init"] = spec.init;
  OrderedJson tmpfs = OrderedJson::object();
  for (const auto& v : config.volumes)
    if (v.kind == runtime::VolumeConfig::Kind::tmpfs) tmpfs[v.destination] = v.options;
  host["Tmpfs"] = tmpfs;
  out["HostConfig"] = host;
  return out;
}

int run_inspect(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  std::vector<OrderedJson> items;
  int status = 0;
  for (const auto& name : args.positional()) {
    try {
      items.push_back(inspect_json(store, runtime::reconciled(store, name)));
    } catch (const std::exception& e) {
      std::cerr << "kiln: container inspect " << name << ": " << util::describe(e) << "\n";
      status = 125;
    }
  }
  if (auto format = args.get("format"); format && *format != "json") {
    for (const auto& item : items) std::cout << render_template(*format, Json::parse(item.dump())) << "\n";
  } else {
    OrderedJson array = OrderedJson::array();
    for (auto& item : items) array.push_back(std::move(item));
    std::cout << array.dump(4) << "\n";
  }
  return status;
}

const Registration kPs{{"ps", "container ls", "container list", "container ps"}, [] {
  return Command{
      .name = "ps",
      .aliases = {"container ls", "container list", "container ps"},
      .usage_args = "[OPTIONS]",
      .summary = "List containers",
      .description = "Lists running containers; with --all also created and exited ones, newest first.",
      .options = {
          {.long_name = "all", .short_name = 'a', .help = "Show all containers, not only running ones"},
          {.long_name = "filter", .short_name = 'f', .arg = "KEY=VALUE",
           .help = "Filter by status, name, id, ancestor or label", .repeatable = true},
          {.long_name = "format", .arg = "FORMAT", .help = "json or a Go template ({{.ID}} {{.Names}} ...)"},
          {.long_name = "no-trunc", .help = "Do not truncate ids and commands"},
          {.long_name = "quiet", .short_name = 'q', .help = "Print only container ids"},
      },
      .max_args = 0,
      .run = run_ps,
  };
}};

const Registration kRm{{"rm", "container rm"}, [] {
  return Command{
      .name = "rm",
      .aliases = {"container rm"},
      .usage_args = "[OPTIONS] CONTAINER [CONTAINER...]",
      .summary = "Remove containers",
      .description = "Removes containers and their writable layers. A running container needs --force, "
                     "which kills it first. Exit status 1 when a container does not exist.",
      .options = {
          {.long_name = "force", .short_name = 'f', .help = "Kill running containers first"},
          {.long_name = "ignore", .short_name = 'i', .help = "Ignore containers that do not exist"},
          {.long_name = "volumes", .short_name = 'v', .help = "Also remove the containers' anonymous volumes"},
      },
      .min_args = 1,
      .arg_complete = Complete::container,
      .run = run_rm,
  };
}};

const Registration kContainerInspect{{"container inspect"}, [] {
  return Command{
      .name = "container inspect",
      .usage_args = "[OPTIONS] CONTAINER [CONTAINER...]",
      .summary = "Show a container's configuration and state as JSON",
      .options = {
          {.long_name = "format", .short_name = 'f', .arg = "FORMAT", .help = "json or a Go template ({{.State.Status}})"},
      },
      .min_args = 1,
      .arg_complete = Complete::container,
      .run = run_inspect,
  };
}};

}  // namespace
}  // namespace kiln::cli
