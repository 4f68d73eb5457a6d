// The credentials file podman and docker users know:
//   {"auths": {"host[:port][/namespace]": {"auth": base64("user:pass")}}}
// Read from the --authfile override, else $REGISTRY_AUTH_FILE, else
// $XDG_RUNTIME_DIR/containers/auth.json, then (read only) the fallbacks
// $XDG_CONFIG_HOME/containers/auth.json and ~/.docker/config.json. Writes keep
// other entries and unknown fields, are atomic, mode 0600 in a 0700 directory.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry/auth.hpp"

namespace kiln::registry {

/// Where login writes: override, else $REGISTRY_AUTH_FILE, else
/// $XDG_RUNTIME_DIR/containers/auth.json, else $HOME/.config/containers/auth.json.
std::filesystem::path auth_file_path(const std::filesystem::path& override_path = {});

/// The files credentials are read from, in order: just the override when given, else
/// auth_file_path() then the podman and docker fallbacks.
std::vector<std::filesystem::path> auth_file_read_paths(const std::filesystem::path& override_path = {});

/// The credentials for a registry host, from the first file that has an entry. With a
/// repository, the most specific "host/namespace" key wins over "host" (as podman).
/// Docker Hub also matches docker's "https://index.docker.io/v1/" key.
/// Throws kiln::Error(invalid_input) for a malformed file.
std::optional<Credentials> lookup_credentials(std::string_view host, std::string_view repository = {},
                                              const std::filesystem::path& override_path = {});

/// Reads the entry for exactly this key from one file; nullopt when absent.
std::optional<Credentials> read_credentials(const std::filesystem::path& file, std::string_view key);

/// Adds or replaces the entry for key in file (created if needed), keeping the rest.
void store_credentials(const std::filesystem::path& file, std::string_view key, const Credentials& credentials);

/// Removes the entry for key; returns false if there was none.
bool remove_credentials(const std::filesystem::path& file, std::string_view key);

/// Removes every entry (logout --all); keeps unknown top-level fields.
void remove_all_credentials(const std::filesystem::path& file);

}  // namespace kiln::registry
