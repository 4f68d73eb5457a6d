// Reading, merging and atomically writing auth.json.
#include "registry/auth_file.hpp"

#include <cstdlib>

#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

namespace kiln::registry {
namespace {

namespace fs = std::filesystem;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// A key as docker writes it ("https://index.docker.io/v1/", "http://host:5000") compared
// as podman's plain "host[/namespace]".
std::string normalize_key(std::string_view key) {
  if (auto scheme = key.find("://"); scheme != std::string_view::npos) {
    key = key.substr(scheme + 3);
    // A URL key names a host only; drop the API path.
    key = key.substr(0, key.find('/'));
  }
  while (!key.empty() && key.back() == '/') key.remove_suffix(1);
  if (key == "index.docker.io" || key == "registry-1.docker.io") return "docker.io";
  return std::string(key);
}

Json read_json_file(const fs::path& file) {
  auto text = util::try_read_file(file);
  if (!text || util::trim(*text).empty()) return Json::object();
  Json j = util::parse_json(*text, file.string());
  if (!j.is_object()) fail(ErrorKind::invalid_input, "{}: not a JSON object", file.string());
  return j;
}

std::optional<Credentials> decode_entry(const fs::path& file, const std::string& key, const Json& entry) {
  if (!entry.is_object()) return std::nullopt;
  if (entry.contains("auth") && entry["auth"].is_string() && !entry["auth"].get<std::string>().empty()) {
    std::string decoded;
    try {
      decoded = base64_decode(entry["auth"].get<std::string>());
    } catch (...) {
      util::rethrow_with("{}: entry \"{}\"", file.string(), key);
    }
    auto pair = util::split_once(decoded, ':');
    if (!pair) fail(ErrorKind::invalid_input, "{}: entry \"{}\": auth is not user:password", file.string(), key);
    return Credentials{pair->first, pair->second};
  }
  if (entry.contains("identitytoken") && entry["identitytoken"].is_string())
    return Credentials{"<token>", entry["identitytoken"].get<std::string>()};
  return std::nullopt;
}

// The entry in one file for the most specific matching key, normalised.
std::optional<Credentials> find_in(const fs::path& file, const std::vector<std::string>& wanted) {
  Json j = read_json_file(file);
  if (!j.contains("auths") || !j["auths"].is_object()) return std::nullopt;
  for (const auto& want : wanted) {
    for (const auto& [key, entry] : j["auths"].items())
      if (normalize_key(key) == want)
        if (auto found = decode_entry(file, key, entry)) return found;
  }
  return std::nullopt;
}

}  // namespace

fs::path auth_file_path(const fs::path& override_path) {
  if (!override_path.empty()) return override_path;
  if (auto value = env("REGISTRY_AUTH_FILE"); !value.empty()) return value;
  if (auto runtime = env("XDG_RUNTIME_DIR"); !runtime.empty()) return fs::path(runtime) / "containers/auth.json";
  return fs::path(env("HOME")) / ".config/containers/auth.json";
}

std::vector<fs::path> auth_file_read_paths(const fs::path& override_path) {
  if (!override_path.empty()) return {override_path};
  std::vector<fs::path> paths{auth_file_path()};
  std::string home = env("HOME");
  std::string config = env("XDG_CONFIG_HOME");
  if (config.empty() && !home.empty()) config = home + "/.config";
  if (!config.empty()) paths.push_back(fs::path(config) / "containers/auth.json");
  if (!home.empty()) paths.push_back(fs::path(home) / ".docker/config.json");
  return paths;
}

std::optional<Credentials> lookup_credentials(std::string_view host, std::string_view repository,
                                              const fs::path& override_path) {
  // "host/a/b/c", "host/a/b", "host/a", "host": most specific first.
  std::vector<std::string> wanted;
  std::string key = normalize_key(host);
  if (!repository.empty()) {
    std::string full = key + "/" + std::string(repository);
    while (full.size() > key.size()) {
      wanted.push_back(full);
      full.erase(full.rfind('/'));
    }
  }
  wanted.push_back(key);
  for (const auto& file : auth_file_read_paths(override_path))
    if (auto found = find_in(file, wanted)) return found;
  return std::nullopt;
}

std::optional<Credentials> read_credentials(const fs::path& file, std::string_view key) {
  return find_in(file, {normalize_key(key)});
}

namespace {
void write_auth_json(const fs::path& file, const Json& j) {
  if (file.has_parent_path()) util::make_dirs(file.parent_path(), 0700);
  util::write_file_atomic(file, j.dump(1, '\t') + "\n", 0600);
}
}  // namespace

void store_credentials(const fs::path& file, std::string_view key, const Credentials& credentials) {
  try {
    Json j = read_json_file(file);
    if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = Json::object();
    std::string plain = normalize_key(key);
    // Drop docker-style spellings of the same key so only one entry remains.
    for (auto it = j["auths"].begin(); it != j["auths"].end();) {
      if (it.key() != plain && normalize_key(it.key()) == plain) it = j["auths"].erase(it);
      else ++it;
    }
    Json& entry = j["auths"][plain];
    if (!entry.is_object()) entry = Json::object();
    entry["auth"] = base64_encode(credentials.username + ":" + credentials.password);
    write_auth_json(file, j);
  } catch (...) {
    util::rethrow_with("store credentials in {}", file.string());
  }
}

bool remove_credentials(const fs::path& file, std::string_view key) {
  try {
    Json j = read_json_file(file);
    if (!j.contains("auths") || !j["auths"].is_object()) return false;
    std::string plain = normalize_key(key);
    bool removed = false;
    for (auto it = j["auths"].begin(); it != j["auths"].end();) {
      if (normalize_key(it.key()) == plain) {
        it = j["auths"].erase(it);
        removed = true;
      } else {
        ++it;
      }
    }
    if (removed) write_auth_json(file, j);
    return removed;
  } catch (...) {
    util::rethrow_with("remove credentials from {}", file.string());
  }
}

void remove_all_credentials(const fs::path& file) {
  try {
    if (!fs::exists(file)) return;
    Json j = read_json_file(file);
    j["auths"] = Json::object();
    write_auth_json(file, j);
  } catch (...) {
    util::rethrow_with("remove credentials from {}", file.string());
  }
}

}  // namespace kiln::registry
