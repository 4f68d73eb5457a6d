// `kiln run`, `kiln create`, `kiln start` and the hidden `kiln container-monitor`:
// flags into runtime::CreateOptions, the image found (or pulled, as --pull says),
// the record created, then
// the container run in the foreground (runtime::run_session) or handed to a
// detached monitor: kiln itself re-executed, double-forked into its own session,
// which reports "running" (or the error) over a pipe before this process exits.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "archive/lookup.hpp"
#include "cli/command.hpp"
#include "cli/context.hpp"
#include "cli/env_args.hpp"
#include "image/reference.hpp"
#include "registry/client.hpp"
#include "registry/progress.hpp"
#include "registry/pull.hpp"
#include "runtime/create.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/session.hpp"
#include "store/store.hpp"
#include "userns/userns.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::cli {
namespace {

runtime::CreateOptions create_options(const Args& args) {
  runtime::CreateOptions o;
  const auto& pos = args.positional();
  o.image = pos[0];
  o.command.assign(pos.begin() + 1, pos.end());
  o.name = args.get("name");
  o.entrypoint = args.get("entrypoint");
  for (const auto& file : args.all("env-file"))
    for (auto& e : read_env_file(file)) o.env.push_back(std::move(e));
  for (const auto& e : args.all("env")) add_env_arg(o.env, e);
  o.workdir = args.get("workdir");
  o.user = args.get("user");
  o.hostname = args.get("hostname");
  o.volumes = args.all("volume");
  o.tmpfs = args.all("tmpfs");
  for (const auto& l : args.all("label")) {
    auto kv = util::split_once(l, '=');
    o.labels[kv ? kv->first : l] = kv ? kv->second : "";
  }
  o.read_only = args.flag("read-only");
  o.tty = args.flag("tty");
  o.stdin_open = args.flag("interactive");
  o.init = args.flag("init");
  o.auto_remove = args.flag("rm");
  std::string network = args.get_or("network", "host");
  if (network == "none") o.network = runtime::NetworkMode::none;
  else if (network == "host") o.network = runtime::NetworkMode::host;
  else fail(ErrorKind::invalid_input, "network mode \"{}\" is not supported (want none or host)", network);
  o.capabilities.add = args.all("cap-add");
  o.capabilities.drop = args.all("cap-drop");
  for (const auto& opt : args.all("security-opt")) {
    auto kv = util::split_once(opt, opt.find('=') != std::string::npos ? '=' : ':');
    std::string key = kv ? kv->first : opt;
    std::string value = kv ? kv->second : "";
    if (key == "seccomp") {
      if (value == "unconfined") o.seccomp.mode = runtime::SeccompChoice::Mode::unconfined;
      else if (!value.empty()) o.seccomp = {runtime::SeccompChoice::Mode::profile_file, std::filesystem::absolute(value).string()};
      else fail(ErrorKind::invalid_input, "invalid --security-opt \"{}\"", opt);
    } else if (key == "no-new-privileges") {
      o.no_new_privileges = value.empty() || value == "true";
    } else {
      fail(ErrorKind::invalid_input, "invalid --security-opt \"{}\": want seccomp=unconfined|PROFILE or no-new-privileges", opt);
    }
  }
  o.stop_signal = args.get("stop-signal");
  if (auto t = args.get("stop-timeout")) {
    try {
      o.stop_timeout = std::stoi(*t);
    } catch (const std::exception&) {
      fail(ErrorKind::invalid_input, "invalid --stop-timeout \"{}\"", *t);
    }
  }
  o.single_id = userns::current_map().single_id();
  return o;
}

// --pull: always, missing (the default), never, or podman's newer (pull, and fall back
// to the stored image when the registry cannot be reached).
enum class PullPolicy { always, missing, never, newer };

PullPolicy pull_policy(const Args& args) {
  std::string pull = args.get_or("pull", "missing");
  if (pull == "always") return PullPolicy::always;
  if (pull == "missing") return PullPolicy::missing;
  if (pull == "never") return PullPolicy::never;
  if (pull == "newer") return PullPolicy::newer;
  fail(ErrorKind::invalid_input, "invalid --pull \"{}\": want always, missing, never or newer", pull);
}

// Pulls text from its registry (each search registry in turn for a short name), as
// `kiln pull` does; returns the stored record.
store::ImageRecord pull_for_run(const Context& ctx, store::Store& store, const Args& args, const std::string& text) {
  std::string name = text.starts_with("docker://") ? text.substr(9) : text;
  registry::TransferProgress progress(registry::TransferProgress::mode_for(args.flag("quiet")));
  registry::PullOptions options;
  options.progress = &progress;
  auto candidates = image::resolve_candidates(name, ctx.config.search_registries);
  bool short_name = candidates.size() > 1 || !candidates.front().explicit_registry;
  std::exception_ptr last;
  for (const auto& ref : candidates) {
    if (ref.registry == image::kLocalRegistry) fail(ErrorKind::not_found, "no such image: {}", ref.str());
    try {
      if (short_name) progress.message(fmt::format("Trying to pull {}...", ref.str()));
      registry::RegistryOptions registry_options;
      const auto& insecure = ctx.config.insecure_registries;
      registry_options.insecure = (args.given("tls-verify") && !args.flag("tls-verify")) ||
                                  std::find(insecure.begin(), insecure.end(), ref.registry) != insecure.end();
      if (auto dir = args.get("cert-dir")) registry_options.cert_dir = *dir;
      if (auto file = args.get("authfile")) registry_options.auth_file = *file;
      registry::RegistryClient client(ref.registry, registry_options);
      return registry::pull_image(store, client, ref, options).record;
    } catch (const std::exception& e) {
      ErrorKind kind = util::kind_of(e);
      if (&ref == &candidates.back() || kind == ErrorKind::corrupt || kind == ErrorKind::invalid_input) throw;
      last = std::current_exception();
    }
  }
  std::rethrow_exception(last);
}

// Starts `kiln container-monitor ID` detached from this process (setsid, double fork,
// stdio on /dev/null) and waits until it reports the container running; rethrows its
// error with the kind it had.
void spawn_monitor(const Context& ctx, const GlobalOptions& global, const std::string& id) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) throw util::sys_error("pipe2");
  util::UniqueFd read_end{util::adopt, fds[0]}, write_end{util::adopt, fds[1]};
  std::vector<std::string> words = {"kiln", "--root", ctx.root.string(), "--runroot", ctx.runroot.string()};
  if (global.storage_driver) words.insert(words.end(), {"--storage-driver", *global.storage_driver});
  if (global.log_level) words.insert(words.end(), {"--log-level", *global.log_level});
  words.insert(words.end(), {"container-monitor", "--ready-fd", std::to_string(write_end.get()), id});
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);

  pid_t child = ::fork();
  if (child < 0) throw util::sys_error("fork the monitor");
  if (child == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::fcntl(write_end.get(), F_SETFD, 0);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(125);
  }
  write_end.reset();
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  std::string reply = util::read_all(read_end);
  if (reply == "ok") return;
  if (reply.empty()) fail("the container monitor exited without starting {}", id);
  auto space = reply.find(' ');
  int kind = std::atoi(reply.substr(0, space).c_str());
  throw Error(space == std::string::npos ? reply : reply.substr(space + 1), static_cast<ErrorKind>(kind));
}

// Finds the image, creates the container; returns its record.
store::ContainerRecord create(const Context& ctx, store::Store& store, const Args& args) {
  runtime::CreateOptions options = create_options(args);
  PullPolicy policy = pull_policy(args);
  std::optional<store::ImageRecord> chosen;
  bool by_id = false;
  {
    auto index = store.image_index();
    auto found = archive::lookup_image(*index, options.image, ctx.config.search_registries);
    if (found.image) chosen = *found.image;
    by_id = found.image && found.matched_name.empty();
  }
  // An image named by id or under localhost/ exists only here: nothing to pull.
  bool pullable = !by_id && !options.image.starts_with(std::string(image::kLocalRegistry) + "/");
  bool pull = pullable && (policy == PullPolicy::always || policy == PullPolicy::newer ||
                           (policy == PullPolicy::missing && !chosen));
  if (pull) {
    try {
      chosen = pull_for_run(ctx, store, args, options.image);
    } catch (...) {
      if (!chosen || policy != PullPolicy::newer) util::rethrow_with("pull {}", options.image);
    }
  }
  if (!chosen) fail(ErrorKind::not_found, "no such image: {}", options.image);
  if (options.name) runtime::reconcile_all(store);  // a stale --rm container may still hold the name
  std::string driver = runtime::choose_driver(store, ctx.storage_driver);
  return runtime::create_container(store, *chosen, options, driver);
}

int run_run(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  store::ContainerRecord record;
  try {
    record = create(ctx, store, args);
  } catch (...) {
    util::rethrow_with("run");
  }
  if (args.flag("detach")) {
    spawn_monitor(ctx, args.global(), record.id);
    std::cout << record.id << std::endl;
    return 0;
  }
  return runtime::run_session(store, std::move(record), {});
}

int run_create(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  store::ContainerRecord record;
  try {
    record = create(ctx, store, args);
  } catch (...) {
    util::rethrow_with("create");
  }
  std::cout << record.id << "\n";
  return 0;
}

int run_start(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  const auto& names = args.positional();
  if (args.flag("attach") || args.flag("interactive")) {
    if (names.size() != 1) fail(ErrorKind::invalid_input, "start: --attach takes exactly one container");
    auto record = runtime::reconciled(store, names[0]);
    return runtime::run_session(store, std::move(record), {});
  }
  int status = 0;
  for (const auto& name : names) {
    try {
      auto record = runtime::reconciled(store, name);
      if (runtime::state_of(record).status == runtime::ContainerStatus::running) {
        std::cout << name << "\n";  // podman: starting a running container is a no-op
        continue;
      }
      spawn_monitor(ctx, args.global(), record.id);
      std::cout << name << std::endl;
    } catch (const std::exception& e) {
      std::cerr << "kiln: start " << name << ": " << util::describe(e) << "\n";
      status = 125;
    }
  }
  return status;
}

int run_monitor(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  int ready_fd = std::stoi(args.get_or("ready-fd", "-1"));
  if (ready_fd >= 0) ::fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
  try {
    return runtime::run_session(store, args.positional()[0], {.detached = true, .ready_fd = ready_fd});
  } catch (const std::exception&) {
    return 125;  // the error went to the ready pipe
  }
}

std::vector<Option> create_table(bool with_run_flags) {
  std::vector<Option> o = {
      {.long_name = "cap-add", .arg = "CAP", .help = "Add a capability to the default set", .repeatable = true},
      {.long_name = "cap-drop", .arg = "CAP", .help = "Drop a capability from the default set", .repeatable = true},
      {.long_name = "entrypoint", .arg = "CMD", .help = "Replace the image's ENTRYPOINT (\"\" clears it)"},
      {.long_name = "env", .short_name = 'e', .arg = "NAME[=VALUE]", .help = "Set an environment variable", .repeatable = true},
      {.long_name = "env-file", .arg = "FILE", .help = "Read environment variables from a file",
       .complete = Complete::file, .repeatable = true},
      {.long_name = "hostname", .arg = "NAME", .help = "Set the container's host name (default: the short id)"},
      {.long_name = "init", .help = "Run a reaper as pid 1 that forwards signals"},
      {.long_name = "interactive", .short_name = 'i', .help = "Keep standard input open"},
      {.long_name = "label", .short_name = 'l', .arg = "KEY=VALUE", .help = "Set a label", .repeatable = true},
      {.long_name = "name", .arg = "NAME", .help = "Name the container"},
      {.long_name = "network", .arg = "MODE", .help = "Network mode: host or none", .complete = Complete::choice,
       .choices = {"host", "none"}, .default_value = "host"},
      {.long_name = "authfile", .arg = "FILE", .help = "Read registry credentials from FILE (for --pull)",
       .complete = Complete::file},
      {.long_name = "cert-dir", .arg = "DIR", .help = "Use certificates in DIR for the registry (for --pull)",
       .complete = Complete::dir},
      {.long_name = "pull", .arg = "POLICY", .help = "Pull the image: always, missing (not stored yet), never or newer",
       .complete = Complete::choice, .choices = {"always", "missing", "never", "newer"}, .default_value = "missing"},
      {.long_name = "tls-verify", .help = "Require HTTPS and verify certificates when pulling (--tls-verify=false: plain http)"},
      {.long_name = "quiet", .short_name = 'q', .help = "Print no pull progress"},
      {.long_name = "read-only", .help = "Mount the container's root file system read-only"},
      {.long_name = "rm", .help = "Remove the container (and its anonymous volumes) when it exits"},
      {.long_name = "security-opt", .arg = "OPT", .help = "seccomp=unconfined|PROFILE.json or no-new-privileges",
       .repeatable = true},
      {.long_name = "stop-signal", .arg = "SIGNAL", .help = "Signal that stops the container"},
      {.long_name = "stop-timeout", .arg = "SECONDS", .help = "Seconds to wait after the stop signal"},
      {.long_name = "tmpfs", .arg = "DST[:OPTS]", .help = "Mount a tmpfs at DST", .repeatable = true},
      {.long_name = "tty", .short_name = 't', .help = "Allocate a pseudo-terminal"},
      {.long_name = "user", .short_name = 'u', .arg = "USER[:GROUP]", .help = "Run as this user (name or uid)"},
      {.long_name = "volume", .short_name = 'v', .arg = "SRC:DST[:ro]", .help = "Bind a host path or a named volume",
       .repeatable = true},
      {.long_name = "workdir", .short_name = 'w', .arg = "DIR", .help = "Working directory inside the container"},
  };
  if (with_run_flags)
    o.push_back({.long_name = "detach", .short_name = 'd', .help = "Run in the background and print the id"});
  std::sort(o.begin(), o.end(), [](const Option& a, const Option& b) { return a.long_name < b.long_name; });
  return o;
}

const Registration kRun{{"run", "container run"}, [] {
  return Command{
      .name = "run",
      .aliases = {"container run"},
      .usage_args = "[OPTIONS] IMAGE [COMMAND [ARG...]]",
      .summary = "Run a command in a new container",
      .description = "Creates a container from IMAGE and runs COMMAND (default: the image's ENTRYPOINT and "
                     "CMD) in it. The exit status is the command's; 125 when kiln fails, 126 when the "
                     "command cannot be executed, 127 when it is not found. The network is the host's "
                     "unless --network none.",
      .options = create_table(true),
      .min_args = 1,
      .arg_complete = Complete::image,
      .stop_at_first_arg = true,
      .run = run_run,
  };
}};

const Registration kCreate{{"create", "container create"}, [] {
  return Command{
      .name = "create",
      .aliases = {"container create"},
      .usage_args = "[OPTIONS] IMAGE [COMMAND [ARG...]]",
      .summary = "Create a container without starting it",
      .description = "Creates a container as run does and prints its id; start it with kiln start.",
      .options = create_table(false),
      .min_args = 1,
      .arg_complete = Complete::image,
      .stop_at_first_arg = true,
      .run = run_create,
  };
}};

const Registration kStart{{"start", "container start"}, [] {
  return Command{
      .name = "start",
      .aliases = {"container start"},
      .usage_args = "[OPTIONS] CONTAINER [CONTAINER...]",
      .summary = "Start created or exited containers",
      .description = "Starts each container in the background (its output goes to its log) and prints "
                     "its name; with --attach, runs one in the foreground and exits with its status.",
      .options = {
          {.long_name = "attach", .short_name = 'a', .help = "Run in the foreground, attached to the terminal"},
          {.long_name = "interactive", .short_name = 'i', .help = "Attach standard input (implies --attach)"},
      },
      .min_args = 1,
      .arg_complete = Complete::container,
      .run = run_start,
  };
}};

const Registration kMonitor{{"container-monitor"}, [] {
  return Command{
      .name = "container-monitor",
      .usage_args = "[OPTIONS] ID",
      .summary = "Wait for a detached container (internal)",
      .options = {{.long_name = "ready-fd", .arg = "FD", .help = "Report the start on this descriptor"}},
      .min_args = 1,
      .max_args = 1,
      .hidden = true,
      .run = run_monitor,
  };
}};

}  // namespace
}  // namespace kiln::cli
