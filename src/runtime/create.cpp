// Container creation: Docker's merge of flags and image config, the syntax of
// -v/--tmpfs/--stop-signal, random names, the driver choice and the record.
#include "runtime/create.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <filesystem>

#include "archive/import.hpp"
#include "snapshot/snapshot.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::runtime {
namespace {

struct SignalName {
  const char* name;
  int number;
};
constexpr std::array<SignalName, 31> kSignals{{
    {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},   {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT},     {"BUS", SIGBUS},       {"FPE", SIGFPE},     {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CONT", SIGCONT},   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},     {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},     {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
}};

std::uint32_t random_u32() {
  std::uint32_t value = 0;
  if (::getrandom(&value, sizeof value, 0) != sizeof value) throw util::sys_error("getrandom");
  return value;
}

bool valid_volume_name(std::string_view name) {
  if (name.empty() || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

std::string clean_destination(std::string_view dst, std::string_view what) {
  if (dst.empty() || dst[0] != '/') fail(ErrorKind::invalid_input, "invalid {} \"{}\": the container path must be absolute", what, dst);
  std::string clean = fs::path(dst).lexically_normal().string();
  if (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  return clean;
}

std::string env_key(std::string_view entry) { return std::string(entry.substr(0, entry.find('='))); }

void set_env(std::vector<std::string>& env, const std::string& entry) {
  std::string key = env_key(entry);
  for (auto& e : env)
    if (env_key(e) == key) {
      e = entry;
      return;
    }
  env.push_back(entry);
}

}  // namespace

int parse_signal(std::string_view text) {
  std::string upper;
  for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string_view name = upper;
  if (name.starts_with("SIG")) name.remove_prefix(3);
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) {
    int n = std::stoi(std::string(name));
    if (n > 0 && n <= SIGRTMAX) return n;
  }
  for (const auto& s : kSignals)
    if (name == s.name) return s.number;
  if (name.starts_with("RTMIN+") || name.starts_with("RTMAX-")) {
    int offset = std::atoi(std::string(name.substr(6)).c_str());
    int n = name.starts_with("RTMIN") ? SIGRTMIN + offset : SIGRTMAX - offset;
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
  }
  fail(ErrorKind::invalid_input, "invalid signal: {}", text);
}

std::string signal_name(int sig) {
  for (const auto& s : kSignals)
    if (s.number == sig) return std::string("SIG") + s.name;
  return std::to_string(sig);
}

VolumeConfig parse_volume(std::string_view text) {
  auto parts = util::split(text, ':');
  VolumeConfig v;
  if (parts.size() == 1) {
    v.kind = VolumeConfig::Kind::anonymous;
    v.destination = clean_destination(parts[0], "volume");
    return v;
  }
  if (parts.size() > 3) fail(ErrorKind::invalid_input, "invalid volume \"{}\": too many colons", text);
  const std::string& src = parts[0];
  if (src.empty()) fail(ErrorKind::invalid_input, "invalid volume \"{}\": empty source", text);
  v.destination = clean_destination(parts[1], "volume");
  if (parts.size() == 3) {
    for (const auto& opt : util::split(parts[2], ',')) {
      if (opt == "ro") v.read_only = true;
      else if (opt == "rw") v.read_only = false;
      else if (opt == "z" || opt == "Z" || opt.empty()) continue;  // SELinux labels: nothing to do here
      else fail(ErrorKind::invalid_input, "invalid volume \"{}\": unknown option \"{}\"", text, opt);
    }
  }
  if (src[0] == '/' || src[0] == '.') {
    v.kind = VolumeConfig::Kind::bind;
    v.source = fs::absolute(src).lexically_normal().string();
  } else {
    if (!valid_volume_name(src))
      fail(ErrorKind::invalid_input, "invalid volume \"{}\": \"{}\" is not a valid volume name", text, src);
    v.kind = VolumeConfig::Kind::named;
    v.source = src;
  }
  return v;
}

VolumeConfig parse_tmpfs(std::string_view text) {
  VolumeConfig v;
  v.kind = VolumeConfig::Kind::tmpfs;
  auto split = util::split_once(text, ':');
  v.destination = clean_destination(split ? split->first : std::string(text), "tmpfs");
  v.options = split ? split->second : "";
  for (const auto& opt : util::split(v.options, ','))
    if (opt == "ro") v.read_only = true;
  return v;
}

std::string random_name() {
  static constexpr std::array<const char*, 40> kAdjectives{
      "admiring", "amazing", "blissful", "bold",     "brave",     "clever",  "compassionate", "cool",
      "dazzling", "eager",   "elastic",  "epic",     "festive",   "focused", "friendly",      "gallant",
      "gifted",   "happy",   "hopeful",  "jolly",    "keen",      "kind",    "loving",        "lucid",
      "modest",   "nifty",   "nostalgic", "optimistic", "peaceful", "quirky", "relaxed",      "serene",
      "sharp",    "stoic",   "sweet",    "tender",   "trusting",  "upbeat",  "vibrant",       "zealous"};
  static constexpr std::array<const char*, 40> kNouns{
      "albattani", "babbage",  "bohr",     "curie",    "darwin",   "einstein", "euler",   "faraday",
      "fermi",     "feynman",  "galileo",  "gauss",    "hopper",   "hypatia",  "kepler",  "knuth",
      "lamarr",    "lovelace", "maxwell",  "meitner",  "mendel",   "newton",   "noether", "pascal",
      "pasteur",   "planck",   "ritchie",  "shannon",  "stallman", "tesla",    "thompson", "torvalds",
      "turing",    "volta",    "wilson",   "wozniak",  "yalow",    "zhukovsky", "archimedes", "bardeen"};
  return fmt::format("{}_{}", kAdjectives[random_u32() % kAdjectives.size()], kNouns[random_u32() % kNouns.size()]);
}

ContainerConfig merge_config(const image::RunConfig& image_config, const CreateOptions& options) {
  ContainerConfig config;
  config.image_name = options.image;
  // Docker: --entrypoint replaces ENTRYPOINT and drops the image's CMD; arguments replace CMD.
  if (options.entrypoint) {
    if (!options.entrypoint->empty()) config.entrypoint = {*options.entrypoint};
  } else {
    config.entrypoint = image_config.entrypoint;
  }
  if (!options.command.empty()) config.cmd = options.command;
  else if (!options.entrypoint) config.cmd = image_config.cmd;
  ContainerSpec& spec = config.spec;
  spec.args = config.entrypoint;
  spec.args.insert(spec.args.end(), config.cmd.begin(), config.cmd.end());
  if (spec.args.empty())
    fail(ErrorKind::invalid_input, "no command or entrypoint provided, and no CMD or ENTRYPOINT from image");

  spec.env = image_config.env;
  bool has_path = std::any_of(spec.env.begin(), spec.env.end(), [](const auto& e) { return e.starts_with("PATH="); });
  if (!has_path) spec.env.insert(spec.env.begin(), std::string("PATH=") + kDefaultPath);
  if (options.tty) set_env(spec.env, "TERM=xterm");
  set_env(spec.env, "container=kiln");
  for (const auto& e : options.env) set_env(spec.env, e);

  spec.cwd = options.workdir ? *options.workdir : image_config.working_dir;
  if (spec.cwd.empty()) spec.cwd = "/";
  if (spec.cwd[0] != '/') fail(ErrorKind::invalid_input, "the working directory \"{}\" is invalid: it needs to be an absolute path", spec.cwd);
  config.user = options.user ? *options.user : image_config.user;
  if (options.hostname) spec.hostname = *options.hostname;

  config.labels = image_config.labels;
  for (const auto& [k, v] : options.labels) config.labels[k] = v;

  for (const auto& text : options.volumes) config.volumes.push_back(parse_volume(text));
  for (const auto& text : options.tmpfs) config.volumes.push_back(parse_tmpfs(text));
  for (const auto& dst : image_config.volumes) {
    std::string clean = clean_destination(dst, "image volume");
    bool covered = std::any_of(config.volumes.begin(), config.volumes.end(),
                               [&](const VolumeConfig& v) { return v.destination == clean; });
    if (!covered) config.volumes.push_back({VolumeConfig::Kind::anonymous, "", clean, false, ""});
  }
  for (auto& v : config.volumes) {
    if (v.kind != VolumeConfig::Kind::anonymous) continue;
    unsigned char bytes[32];
    if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) throw util::sys_error("getrandom");
    for (unsigned char b : bytes) v.source += fmt::format("{:02x}", b);
  }

  spec.read_only_rootfs = options.read_only;
  spec.tty = options.tty;
  spec.stdin_open = options.stdin_open;
  spec.init = options.init;
  spec.no_new_privileges = options.no_new_privileges;
  spec.network = options.network;
  spec.capabilities = options.capabilities;
  spec.seccomp = options.seccomp;
  spec.single_id = options.single_id;
  if (options.stop_signal) spec.stop_signal = parse_signal(*options.stop_signal);
  else if (!image_config.stop_signal.empty()) spec.stop_signal = parse_signal(image_config.stop_signal);
  config.auto_remove = options.auto_remove;
  if (options.stop_timeout) config.stop_timeout = *options.stop_timeout;
  return config;
}

std::string choose_driver(store::Store& store, const std::optional<std::string>& requested) {
  if (requested && !requested->empty()) {
    snapshot::make_snapshotter(*requested);  // validates the name
    return *requested;
  }
  if (auto remembered = store.driver()) return *remembered;
  util::TempDir scratch(store.tmp_dir(), "probe-");
  std::string driver = snapshot::probe_driver(scratch.path());
  store.set_driver(driver);
  return driver;
}

image::ImageConfig image_config_of(const store::Store& store, const store::ImageRecord& image) {
  return image::ImageConfig::parse(store.read_blob(image.config_digest));
}

store::ContainerRecord create_container(store::Store& store, const store::ImageRecord& image,
                                        const CreateOptions& options, const std::string& driver) {
  archive::unpack_image(store, image, options.single_id);  // a pulled image's first use
  ContainerConfig config = merge_config(image_config_of(store, image).config, options);
  config.driver = driver;

  store::ContainerRecord record;
  record.name = options.name ? *options.name : "";
  record.image_id = image.id;
  record.top_layer = image.top_layer;
  set_state(record, ContainerState{});
  // A random name may collide with an existing one: try a few.
  // The id is chosen here so the hostname default (its first 12 digits) is in the
  // record from the start: one durable write, not two.
  record.id = store::new_container_id();
  if (config.spec.hostname.empty()) config.spec.hostname = record.id.substr(0, 12);
  set_config(record, config);
  for (int attempt = 0;; ++attempt) {
    if (!options.name) record.name = random_name();
    try {
      record = store.add_container(record, !config.auto_remove);
      break;
    } catch (const std::exception& e) {
      if (options.name || attempt > 20 || util::kind_of(e) != ErrorKind::conflict) throw;
    }
  }
  auto paths = container_paths(store, record.id);
  if (driver != "vfs") {
    util::make_dirs(paths.upper, 0755);
    util::make_dirs(paths.work, 0700);
    util::make_dirs(paths.merged, 0755);
  }
  return record;
}

}  // namespace kiln::runtime
