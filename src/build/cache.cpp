// Step cache keys and entries on disk.
#include "build/cache.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/log.hpp"

namespace kiln::build {

namespace fs = std::filesystem;

std::string step_key(std::string_view parent_key, const std::vector<std::string>& parts) {
  util::Sha256 sha;
  // Length-prefixed so that no two part lists hash alike.
  auto add = [&](std::string_view part) {
    sha.update(std::to_string(part.size()));
    sha.update(":", 1);
    sha.update(part);
  };
  add("kiln-build-step-v1");
  add(parent_key);
  for (const auto& p : parts) add(p);
  return std::string(sha.finish().hex());
}

std::optional<CacheEntry> StepCache::find(const std::string& key) const {
  auto text = util::try_read_file(store_.cache_dir() / "steps" / key);
  if (!text) return std::nullopt;
  try {
    Json json = Json::parse(*text);
    CacheEntry entry;
    entry.config = json.at("config").get<std::string>();
    if (json.contains("layer")) {
      entry.layer = util::Digest::parse(json.at("layer").get<std::string>());
      if (!store_.has_layer(*entry.layer)) return std::nullopt;
    }
    return entry;
  } catch (const std::exception& e) {
    util::debug("build cache entry {}: {}", key, util::describe(e));
    return std::nullopt;
  }
}

void StepCache::put(const std::string& key, const CacheEntry& entry) const {
  try {
    Json json = Json::object();
    if (entry.layer) json["layer"] = entry.layer->str();
    json["config"] = entry.config;
    fs::path dir = store_.cache_dir() / "steps";
    util::make_dirs(dir, 0700);
    // Atomic, not durable: an entry lost (or left empty) by a crash is only a cache miss.
    util::write_file_replace(dir / key, json.dump(), 0600);
  } catch (const std::exception& e) {
    util::warn("build cache: record step {}: {}", key.substr(0, 12), util::describe(e));
  }
}

}  // namespace kiln::build
