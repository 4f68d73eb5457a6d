// `kiln build [OPTIONS] [CONTEXT]` (also `kiln image build`) and `kiln builder
// prune`: flags into build::BuildOptions, one call to build::build(). Progress
// goes to stderr; the image id alone goes to stdout.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "archive/lookup.hpp"
#include "build/build.hpp"
#include "cli/command.hpp"
#include "cli/context.hpp"
#include "image/reference.hpp"
#include "registry/client.hpp"
#include "registry/progress.hpp"
#include "registry/pull.hpp"
#include "runtime/create.hpp"
#include "store/store.hpp"
#include "userns/userns.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::cli {
namespace {

std::int64_t parse_epoch(std::string_view text, std::string_view what) {
  try {
    std::size_t used = 0;
    long long n = std::stoll(std::string(text), &used);
    if (used == text.size() && n >= 0) return n;
  } catch (const std::exception&) {
  }
  fail(ErrorKind::invalid_input, "{} {}: want seconds since the epoch", what, text);
}

// Pulls a base image for the builder: each search-registry candidate of name in turn,
// as `kiln pull` does.
void pull_base(const Args& args, const Context& ctx, store::Store& store, const std::string& name) {
  std::string text = name.starts_with("docker://") ? name.substr(9) : name;
  auto candidates = image::resolve_candidates(text, ctx.config.search_registries);
  registry::PullOptions options;
  registry::TransferProgress progress(registry::TransferProgress::mode_for(args.flag("quiet")));
  options.progress = &progress;
  std::exception_ptr last;
  for (const auto& ref : candidates) {
    if (ref.registry == image::kLocalRegistry) continue;
    try {
      registry::RegistryOptions reg;
      const auto& insecure = ctx.config.insecure_registries;
      reg.insecure = (args.given("tls-verify") && !args.flag("tls-verify")) ||
                     std::find(insecure.begin(), insecure.end(), ref.registry) != insecure.end();
      if (auto file = args.get("authfile")) reg.auth_file = *file;
      registry::RegistryClient client(ref.registry, reg);
      registry::pull_image(store, client, ref, options);
      return;
    } catch (const std::exception& e) {
      ErrorKind kind = util::kind_of(e);
      if (&ref == &candidates.back() || kind == ErrorKind::corrupt || kind == ErrorKind::invalid_input) throw;
      last = std::current_exception();
    }
  }
  if (last) std::rethrow_exception(last);
  fail(ErrorKind::not_found, "pull {}: no registry to pull it from", name);
}

int run_build(const Args& args) {
  Context ctx = Context::resolve(args.global());
  build::BuildOptions options;
  if (!args.positional().empty()) options.context = args.positional()[0];
  options.dockerfile = args.get("file");
  for (const auto& tag : args.all("tag")) options.tags.push_back(archive::normalize_new_name(tag));
  for (const auto& arg : args.all("build-arg")) {
    if (auto kv = util::split_once(arg, '=')) {
      options.build_args[kv->first] = kv->second;
    } else if (const char* value = std::getenv(arg.c_str())) {
      options.build_args[arg] = value;
    }
  }
  options.target = args.get("target");
  options.platform = args.get("platform");
  options.no_cache = args.flag("no-cache");
  std::string pull = args.get_or("pull", "missing");
  if (pull == "always" || pull == "true") options.pull = build::PullPolicy::always;
  else if (pull == "missing") options.pull = build::PullPolicy::missing;
  else if (pull == "never" || pull == "false") options.pull = build::PullPolicy::never;
  else fail(ErrorKind::invalid_input, "--pull={}: want always, missing or never", pull);
  options.quiet = args.flag("quiet");
  std::string format = args.get_or("format", "oci");
  if (format != "oci" && format != "docker") fail(ErrorKind::invalid_input, "--format={}: want oci or docker", format);
  options.docker_format = format == "docker";
  options.squash = args.flag("squash");
  options.layers = !args.given("layers") || args.flag("layers");
  std::string network = args.get_or("network", ctx.config.network.value_or("host"));
  if (network == "none") options.network = runtime::NetworkMode::none;
  else if (network == "host" || network == "default") options.network = runtime::NetworkMode::host;
  else fail(ErrorKind::invalid_input, "--network={}: build supports none and host", network);
  for (const auto& secret : args.all("secret")) {
    std::string id;
    build::SecretSource source;
    for (const auto& field : util::split(secret, ',')) {
      auto kv = util::split_once(field, '=');
      if (!kv) fail(ErrorKind::invalid_input, "--secret {}: want id=ID,src=FILE or id=ID,env=VAR", secret);
      if (kv->first == "id") id = kv->second;
      else if (kv->first == "src" || kv->first == "source") source.file = kv->second;
      else if (kv->first == "env") source.env = kv->second;
      else if (kv->first != "type") fail(ErrorKind::invalid_input, "--secret {}: unknown field {}", secret, kv->first);
    }
    if (id.empty()) id = std::filesystem::path(source.file).filename().string();
    if (id.empty() || (source.file.empty() && source.env.empty()))
      fail(ErrorKind::invalid_input, "--secret {}: want id=ID,src=FILE or id=ID,env=VAR", secret);
    if (source.file.empty() && source.env.empty()) source.env = id;
    options.secrets[id] = source;
  }
  for (const auto& label : args.all("label")) {
    auto kv = util::split_once(label, '=');
    options.labels[kv ? kv->first : label] = kv ? kv->second : "";
  }
  if (auto ts = args.get("timestamp")) options.timestamp = parse_epoch(*ts, "--timestamp");
  else if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch)
    options.timestamp = parse_epoch(epoch, "SOURCE_DATE_EPOCH");
  if (auto jobs = args.get("jobs")) {
    long long n = 0;
    try {
      std::size_t used = 0;
      n = std::stoll(*jobs, &used);
      if (used != jobs->size()) n = 0;
    } catch (const std::exception&) {
    }
    if (n < 1 || n > 1024) fail(ErrorKind::invalid_input, "--jobs {}: want 1 to 1024", *jobs);
    options.jobs = static_cast<int>(n);
  } else {
    options.jobs = std::max(1, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));
  }
  std::string progress = args.get_or("progress", "plain");
  if (progress != "plain" && progress != "tty" && progress != "auto")
    fail(ErrorKind::invalid_input, "--progress={}: want plain, tty or auto", progress);
  bool tty = progress == "tty" || (progress == "auto" && ::isatty(2));
  options.progress = tty ? build::ProgressMode::tty : build::ProgressMode::plain;
  options.search_registries = ctx.config.search_registries;

  // The builder enters kiln's user namespace itself, before the first step it has to run:
  // a fully cached build reads only the store's records and the context's files, which
  // needs no namespace (and so no newuidmap/newgidmap). Probing the storage driver and
  // unpacking a context that is not a plain directory (tarball, stdin, git) happen here
  // and need it at once.
  auto store = store::Store::open(ctx.root);
  std::string context = options.context;
  bool plain_dir = context != "-" && context.find("://") == std::string::npos && context.find('#') == std::string::npos &&
                   !context.ends_with(".git") && !context.starts_with("git@") && std::filesystem::is_directory(context);
  if (!plain_dir || (!ctx.storage_driver && !store.driver())) userns::enter();
  options.driver = runtime::choose_driver(store, ctx.storage_driver);
  options.pull_image = [&](const std::string& name) { pull_base(args, ctx, store, name); };
  util::Digest id = build::build(store, options, std::cerr);
  if (auto iidfile = args.get("iidfile")) util::write_file_atomic(*iidfile, id.str());
  std::cout << id.hex() << "\n";
  return 0;
}

int run_prune(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  build::prune_cache(store);
  return 0;
}

const Registration kBuild{{"build", "image build", "buildx build"}, [] {
  return Command{
      .name = "build",
      .aliases = {"image build", "buildx build"},
      .usage_args = "[OPTIONS] [CONTEXT]",
      .summary = "Build an image from a Dockerfile",
      .description = "CONTEXT is a directory (default .), a tarball, - for a tarball on standard input, "
                     "or a git repository (DIR.git#REF:SUBDIR, file://...). Steps are cached; progress "
                     "goes to standard error and the image id to standard output.",
      .options = {
          {.long_name = "file", .short_name = 'f', .arg = "FILE",
           .help = "The Dockerfile (default CONTEXT/Dockerfile); - reads it from stdin", .complete = Complete::file},
          {.long_name = "tag", .short_name = 't', .arg = "NAME", .help = "Name the image", .repeatable = true},
          {.long_name = "quiet", .short_name = 'q', .help = "Print only the image id"},
          {.long_name = "iidfile", .arg = "FILE", .help = "Write the image id to FILE", .complete = Complete::file},
          {.long_name = "build-arg", .arg = "NAME[=VALUE]", .help = "Set a build argument", .repeatable = true},
          {.long_name = "target", .arg = "STAGE", .help = "Build this stage and what it needs"},
          {.long_name = "platform", .arg = "OS/ARCH", .help = "The target platform (only the host's)"},
          {.long_name = "no-cache", .help = "Run every step, do not use the step cache"},
          {.long_name = "pull", .arg = "POLICY", .help = "When to pull the base image",
           .complete = Complete::choice, .choices = {"always", "missing", "never"}, .default_value = "missing"},
          {.long_name = "tls-verify", .help = "Require HTTPS and verify certificates when pulling (default true)"},
          {.long_name = "authfile", .arg = "FILE", .help = "Credentials for pulling base images",
           .complete = Complete::file},
          {.long_name = "format", .arg = "FORMAT", .help = "Image format", .complete = Complete::choice,
           .choices = {"oci", "docker"}, .default_value = "oci"},
          {.long_name = "squash", .help = "Squash the new layers into one on top of the base image"},
          {.long_name = "layers", .help = "Cache each step as a layer (--layers=false: one layer, no cache)"},
          {.long_name = "network", .arg = "MODE", .help = "Network for RUN steps", .complete = Complete::choice,
           .choices = {"host", "none"}, .default_value = "host"},
          {.long_name = "secret", .arg = "id=ID,src=FILE", .help = "Expose a secret to RUN --mount=type=secret",
           .repeatable = true},
          {.long_name = "label", .arg = "KEY=VALUE", .help = "Add a label to the image", .repeatable = true},
          {.long_name = "timestamp", .arg = "SECONDS", .help = "Set all created times and clamp file times"},
          {.long_name = "jobs", .arg = "N", .help = "Independent stages to build at once (default: the number of CPUs)"},
          {.long_name = "progress", .arg = "TYPE", .help = "Progress output: plain (STEP lines), tty (a status line per step), auto", .complete = Complete::choice,
           .choices = {"plain", "tty", "auto"}, .default_value = "plain"},
      },
      .min_args = 0,
      .max_args = 1,
      .arg_complete = Complete::dir,
      .needs_userns = false,  // entered by the builder when a step must run (see run_build)
      .run = run_build,
  };
}};

const Registration kBuilderPrune{{"builder prune"}, [] {
  return Command{
      .name = "builder prune",
      .usage_args = "[OPTIONS]",
      .summary = "Remove the build cache",
      .description = "Empties the step cache and the RUN --mount=type=cache directories.",
      .options = {
          {.long_name = "all", .short_name = 'a', .help = "Remove all cache (the default)"},
          {.long_name = "force", .short_name = 'f', .help = "Do not ask for confirmation"},
      },
      .min_args = 0,
      .max_args = 0,
      .run = run_prune,
  };
}};

}  // namespace
}  // namespace kiln::cli
