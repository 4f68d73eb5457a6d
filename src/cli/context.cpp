// Configuration files, environment and flags -> Context.
#include "cli/context.hpp"

#include <unistd.h>

#include <cstdlib>

#include <yaml-cpp/yaml.h>

#include "userns/userns.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::cli {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

[[noreturn]] void config_error(const std::filesystem::path& path, const YAML::Mark& mark, std::string msg) {
  throw Error(SourceLocation{path.string(), mark.line + 1, mark.column + 1}, std::move(msg));
}

std::string scalar(const std::filesystem::path& path, const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) config_error(path, node.Mark(), fmt::format("\"{}\" must be a string", key));
  return node.as<std::string>();
}

std::vector<std::string> string_list(const std::filesystem::path& path, const YAML::Node& node,
                                     const std::string& key) {
  if (!node.IsSequence()) config_error(path, node.Mark(), fmt::format("\"{}\" must be a list of strings", key));
  std::vector<std::string> out;
  for (const auto& item : node) out.push_back(scalar(path, item, key));
  return out;
}

template <typename F>
void each_key(const std::filesystem::path& path, const YAML::Node& map, const std::string& section, F&& f) {
  if (!map.IsMap()) config_error(path, map.Mark(), fmt::format("\"{}\" must be a mapping", section));
  for (const auto& kv : map) {
    std::string key = kv.first.as<std::string>();
    std::string full = section.empty() ? key : section + "." + key;
    if (!f(key, full, kv.second)) config_error(path, kv.first.Mark(), fmt::format("unknown key \"{}\"", full));
  }
}

}  // namespace

void load_config_file(const std::filesystem::path& path, Config& cfg) {
  auto text = util::try_read_file(path);
  if (!text) return;
  YAML::Node doc;
  try {
    doc = YAML::Load(*text);
  } catch (const YAML::ParserException& e) {
    config_error(path, e.mark, e.msg);
  }
  if (doc.IsNull()) return;
  each_key(path, doc, "", [&](const std::string& key, const std::string& full, const YAML::Node& v) {
    if (key == "storage") {
      each_key(path, v, full, [&](const std::string& k, const std::string& f, const YAML::Node& x) {
        if (k == "root") cfg.root = scalar(path, x, f);
        else if (k == "runroot") cfg.runroot = scalar(path, x, f);
        else if (k == "driver") cfg.storage_driver = scalar(path, x, f);
        else return false;
        return true;
      });
    } else if (key == "registries") {
      each_key(path, v, full, [&](const std::string& k, const std::string& f, const YAML::Node& x) {
        if (k == "search") cfg.search_registries = string_list(path, x, f);
        else if (k == "insecure") cfg.insecure_registries = string_list(path, x, f);
        else return false;
        return true;
      });
    } else if (key == "network") {
      each_key(path, v, full, [&](const std::string& k, const std::string& f, const YAML::Node& x) {
        if (k != "default") return false;
        cfg.network = scalar(path, x, f);
        return true;
      });
    } else if (key == "security") {
      each_key(path, v, full, [&](const std::string& k, const std::string& f, const YAML::Node& x) {
        if (k != "seccomp_profile") return false;
        cfg.seccomp_profile = scalar(path, x, f);
        return true;
      });
    } else {
      return false;
    }
    return true;
  });
}

Context Context::resolve(const GlobalOptions& global) {
  Context ctx;
  ctx.rootless = userns::host_uid() != 0;
  std::string home = env_or("HOME", "/");
  std::string config_home = env_or("XDG_CONFIG_HOME", home + "/.config");
  load_config_file("/etc/kiln/config.yaml", ctx.config);
  load_config_file(env_or("KILN_CONFIG", config_home + "/kiln/config.yaml"), ctx.config);
  const Config& cfg = ctx.config;

  std::string data_home = env_or("XDG_DATA_HOME", home + "/.local/share");
  std::string root = ctx.rootless ? data_home + "/kiln" : "/var/lib/kiln";
  if (cfg.root) root = *cfg.root;
  root = env_or("KILN_ROOT", root);
  if (global.root) root = *global.root;
  ctx.root = std::filesystem::absolute(root);

  std::string runtime_dir = env_or("XDG_RUNTIME_DIR", "");
  std::string runroot = ctx.rootless ? (runtime_dir.empty() ? fmt::format("/tmp/kiln-run-{}", userns::host_uid())
                                                             : runtime_dir + "/kiln")
                                     : "/run/kiln";
  if (cfg.runroot) runroot = *cfg.runroot;
  runroot = env_or("KILN_RUNROOT", runroot);
  if (global.runroot) runroot = *global.runroot;
  ctx.runroot = std::filesystem::absolute(runroot);

  if (ctx.rootless && !runtime_dir.empty()) ctx.holder_dir = std::filesystem::path(runtime_dir) / "kiln";
  std::string holder = env_or("KILN_USERNS_HOLDER", "1");
  ctx.use_holder = !(holder == "0" || holder == "false" || holder == "no");

  ctx.storage_driver = cfg.storage_driver;
  if (const char* d = std::getenv("KILN_STORAGE_DRIVER"); d && *d) ctx.storage_driver = d;
  if (global.storage_driver) ctx.storage_driver = global.storage_driver;
  if (ctx.storage_driver && *ctx.storage_driver != "overlay" && *ctx.storage_driver != "fuse-overlayfs" &&
      *ctx.storage_driver != "vfs")
    fail(ErrorKind::invalid_input, "unknown storage driver \"{}\" (want overlay, fuse-overlayfs or vfs)",
         *ctx.storage_driver);
  if (ctx.config.search_registries.empty()) ctx.config.search_registries = {"docker.io"};
  return ctx;
}

void enter_namespace(const Context& ctx) {
  userns::EnterOptions options;
  if (ctx.use_holder) options.holder_dir = ctx.holder_dir;
  userns::enter(options);
}

}  // namespace kiln::cli
