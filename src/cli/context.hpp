// Where this invocation works: the store root, the runtime directory, the
// snapshot driver and registry settings, resolved in DESIGN.md's order:
// built-in defaults < /etc/kiln/config.yaml < $XDG_CONFIG_HOME/kiln/config.yaml
// < KILN_* environment < flags.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.hpp"

namespace kiln::cli {

struct Config {
  std::optional<std::string> root;            // storage.root
  std::optional<std::string> runroot;         // storage.runroot
  std::optional<std::string> storage_driver;  // storage.driver
  std::vector<std::string> search_registries;  // registries.search (default docker.io)
  std::vector<std::string> insecure_registries;  // registries.insecure
  std::optional<std::string> network;         // network.default
  std::optional<std::string> seccomp_profile;  // security.seccomp_profile
};

/// Reads one YAML config file into cfg (later files override). A missing file is fine;
/// a malformed one throws kiln::Error naming file:line:col and the key.
void load_config_file(const std::filesystem::path& path, Config& cfg);

struct Context {
  std::filesystem::path root;      // the store
  std::filesystem::path runroot;   // mount points, pid files
  std::optional<std::string> storage_driver;  // nullopt: probe (and remember in the store)
  Config config;
  bool rootless = true;            // the invoking user is not root
  /// Where the user-namespace holder is recorded: $XDG_RUNTIME_DIR/kiln (per user, not per
  /// store); empty without XDG_RUNTIME_DIR. use_holder is false with KILN_USERNS_HOLDER=0.
  std::filesystem::path holder_dir;
  bool use_holder = true;

  /// Resolves everything from the config files, the environment and the global flags.
  static Context resolve(const GlobalOptions& global);
};

/// Enters kiln's user + mount namespace (see src/userns) if not already inside.
void enter_namespace(const Context& ctx);

}  // namespace kiln::cli
