// `kiln logs`, `kiln stop`, `kiln kill`, `kiln wait` and `kiln exec`: commands
// that act on a container another kiln process runs. They work in the host's
// namespaces (exec must: it joins the container's user namespace from there),
// read the record, and call one runtime function each.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/command.hpp"
#include "cli/context.hpp"
#include "cli/env_args.hpp"
#include "runtime/create.hpp"
#include "runtime/exec.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/logs.hpp"
#include "runtime/stop.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::cli {
namespace {

int to_int(const std::string& text, std::string_view what) {
  try {
    std::size_t used = 0;
    int value = std::stoi(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  fail(ErrorKind::invalid_input, "invalid {} \"{}\": want a number", what, text);
}

/// Runs action for each named container; an error is reported and the rest go on, as
/// podman does; 125 when any failed.
int for_each_container(const Args& args, const std::function<void(store::Store&, const std::string&)>& action) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  int status = 0;
  for (const auto& name : args.positional()) {
    try {
      action(store, name);
    } catch (const std::exception& e) {
      std::cout.flush();
      std::cerr << "kiln: " << args.command_name() << " " << name << ": " << util::describe(e) << "\n";
      status = 125;
    }
  }
  return status;
}

int run_logs(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  runtime::LogOptions options;
  options.follow = args.flag("follow");
  options.timestamps = args.flag("timestamps");
  if (auto tail = args.get("tail")) {
    int n = to_int(*tail, "--tail");
    if (n >= 0) options.tail = static_cast<std::size_t>(n);  // -1: everything, as podman
  }
  auto now = runtime::Clock::now();
  if (auto since = args.get("since")) options.since = runtime::parse_log_time(*since, now);
  if (auto until = args.get("until")) options.until = runtime::parse_log_time(*until, now);
  try {
    auto record = runtime::reconciled(store, args.positional()[0]);
    runtime::print_logs(store, record, options, util::Fd(STDOUT_FILENO), util::Fd(STDERR_FILENO));
  } catch (...) {
    util::rethrow_with("logs");
  }
  return 0;
}

int run_stop(const Args& args) {
  std::optional<int> timeout;
  if (auto t = args.get("time")) timeout = to_int(*t, "--time");
  return for_each_container(args, [&](store::Store& store, const std::string& name) {
    auto record = runtime::reconciled(store, name);
    runtime::stop_container(store, record, timeout);
    std::cout << name << std::endl;
  });
}

int run_kill(const Args& args) {
  int sig = runtime::parse_signal(args.get_or("signal", "KILL"));
  return for_each_container(args, [&](store::Store& store, const std::string& name) {
    runtime::kill_container(runtime::reconciled(store, name), sig);
    std::cout << name << std::endl;
  });
}

int run_wait(const Args& args) {
  return for_each_container(args, [&](store::Store& store, const std::string& name) {
    auto record = runtime::reconciled(store, name);
    std::cout << runtime::wait_container(store, record.id).value_or(-1) << std::endl;
  });
}

int run_exec(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  runtime::ExecOptions options;
  const auto& pos = args.positional();
  options.args.assign(pos.begin() + 1, pos.end());
  for (const auto& e : args.all("env")) add_env_arg(options.env, e);
  options.user = args.get("user");
  options.workdir = args.get("workdir");
  options.tty = args.flag("tty");
  options.interactive = args.flag("interactive");
  options.detach = args.flag("detach");
  if (options.workdir && !options.workdir->starts_with('/'))
    fail(ErrorKind::invalid_input, "exec: the working directory \"{}\" must be an absolute path", *options.workdir);
  try {
    auto record = runtime::reconciled(store, pos[0]);
    return runtime::exec_in_container(record, options);
  } catch (...) {
    util::rethrow_with("exec");
  }
}

const Registration kLogs{{"logs", "container logs"}, [] {
  return Command{
      .name = "logs",
      .aliases = {"container logs"},
      .usage_args = "[OPTIONS] CONTAINER",
      .summary = "Print a container's output",
      .description = "Prints what a detached container wrote, its standard output to standard output and "
                     "its standard error to standard error.",
      .options = {
          {.long_name = "follow", .short_name = 'f', .help = "Keep printing new output until the container exits"},
          {.long_name = "since", .arg = "TIME", .help = "Only output since TIME (RFC 3339, a duration such as 10m, or Unix seconds)"},
          {.long_name = "tail", .arg = "N", .help = "Only the last N lines (-1: all)", .default_value = "-1"},
          {.long_name = "timestamps", .short_name = 't', .help = "Prefix each line with the time it was written"},
          {.long_name = "until", .arg = "TIME", .help = "Only output until TIME"},
      },
      .min_args = 1,
      .max_args = 1,
      .arg_complete = Complete::container,
      .needs_userns = false,
      .run = run_logs,
  };
}};

const Registration kStop{{"stop", "container stop"}, [] {
  return Command{
      .name = "stop",
      .aliases = {"container stop"},
      .usage_args = "[OPTIONS] CONTAINER [CONTAINER...]",
      .summary = "Stop running containers",
      .description = "Sends each container its stop signal (the image's STOPSIGNAL or --stop-signal, else "
                     "SIGTERM), waits for it to exit, and sends SIGKILL when the timeout passes. Prints "
                     "each container as named. Stopping a container that is not running does nothing.",
      .options = {
          {.long_name = "time", .short_name = 't', .arg = "SECONDS",
           .help = "Seconds to wait before SIGKILL (default: the container's stop timeout, 10)"},
      },
      .min_args = 1,
      .arg_complete = Complete::container,
      .needs_userns = false,
      .run = run_stop,
  };
}};

const Registration kKill{{"kill", "container kill"}, [] {
  return Command{
      .name = "kill",
      .aliases = {"container kill"},
      .usage_args = "[OPTIONS] CONTAINER [CONTAINER...]",
      .summary = "Send a signal to running containers",
      .description = "Sends a signal to each container's main process and prints the container as named. "
                     "As pid 1 of its namespace, the process ignores signals it has no handler for, "
                     "except SIGKILL and SIGSTOP.",
      .options = {
          {.long_name = "signal", .short_name = 's', .arg = "SIGNAL", .help = "Signal to send (name or number)",
           .default_value = "KILL"},
      },
      .min_args = 1,
      .arg_complete = Complete::container,
      .needs_userns = false,
      .run = run_kill,
  };
}};

const Registration kWait{{"wait", "container wait"}, [] {
  return Command{
      .name = "wait",
      .aliases = {"container wait"},
      .usage_args = "CONTAINER [CONTAINER...]",
      .summary = "Wait for containers to exit and print their exit codes",
      .min_args = 1,
      .arg_complete = Complete::container,
      .needs_userns = false,
      .run = run_wait,
  };
}};

const Registration kExec{{"exec", "container exec"}, [] {
  return Command{
      .name = "exec",
      .aliases = {"container exec"},
      .usage_args = "[OPTIONS] CONTAINER COMMAND [ARG...]",
      .summary = "Run a command in a running container",
      .description = "Runs COMMAND in the namespaces of a running container, as its user (or --user), with "
                     "its environment, working directory, capabilities and seccomp filter. The exit "
                     "status is the command's; 126 when it cannot be executed, 127 when it is not found, "
                     "125 when kiln fails (the container is not running).",
      .options = {
          {.long_name = "detach", .short_name = 'd', .help = "Run the command in the background"},
          {.long_name = "env", .short_name = 'e', .arg = "NAME[=VALUE]", .help = "Set an environment variable",
           .repeatable = true},
          {.long_name = "interactive", .short_name = 'i', .help = "Keep standard input open"},
          {.long_name = "tty", .short_name = 't', .help = "Allocate a pseudo-terminal"},
          {.long_name = "user", .short_name = 'u', .arg = "USER[:GROUP]", .help = "Run as this user (name or uid)"},
          {.long_name = "workdir", .short_name = 'w', .arg = "DIR", .help = "Working directory inside the container"},
      },
      .min_args = 2,
      .arg_complete = Complete::container,
      .stop_at_first_arg = true,
      .needs_userns = false,
      .run = run_exec,
  };
}};

}  // namespace
}  // namespace kiln::cli
