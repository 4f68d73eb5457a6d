// docker-archive metadata: see docker_archive.hpp.
#include "archive/docker_archive.hpp"

#include "util/error.hpp"
#include "util/json.hpp"

namespace kiln::archive {
namespace {

std::vector<std::string> string_list(const Json& value, std::size_t index, const char* field, bool required) {
  std::vector<std::string> out;
  if (value.is_null()) {
    if (required) fail(ErrorKind::invalid_input, "manifest.json: entry {}: field \"{}\" is missing", index, field);
    return out;
  }
  if (!value.is_array())
    fail(ErrorKind::invalid_input, "manifest.json: entry {}: field \"{}\" must be a list of strings", index, field);
  for (const auto& item : value) {
    if (!item.is_string())
      fail(ErrorKind::invalid_input, "manifest.json: entry {}: field \"{}\" must be a list of strings", index, field);
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

std::vector<DockerArchiveEntry> parse_docker_manifest(std::string_view text) {
  Json json = util::parse_json(text, "manifest.json");
  if (!json.is_array()) fail(ErrorKind::invalid_input, "manifest.json: must be a list of images");
  if (json.empty()) fail(ErrorKind::invalid_input, "manifest.json: lists no image");
  std::vector<DockerArchiveEntry> entries;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const Json& item = json[i];
    if (!item.is_object()) fail(ErrorKind::invalid_input, "manifest.json: entry {} must be an object", i);
    DockerArchiveEntry entry;
    auto config = item.find("Config");
    if (config == item.end() || !config->is_string() || config->get<std::string>().empty())
      fail(ErrorKind::invalid_input, "manifest.json: entry {}: field \"Config\" must be a member name", i);
    entry.config = config->get<std::string>();
    entry.repo_tags = string_list(item.value("RepoTags", Json()), i, "RepoTags", false);
    entry.layers = string_list(item.value("Layers", Json()), i, "Layers", true);
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::string serialize_docker_manifest(const std::vector<DockerArchiveEntry>& entries) {
  OrderedJson out = OrderedJson::array();
  for (const auto& entry : entries) {
    OrderedJson item = OrderedJson::object();
    item["Config"] = entry.config;
    // docker writes null for an image saved by id; podman and docker read both.
    item["RepoTags"] = entry.repo_tags.empty() ? OrderedJson() : OrderedJson(entry.repo_tags);
    item["Layers"] = entry.layers;
    out.push_back(std::move(item));
  }
  return out.dump();
}

std::string docker_config_member(const util::Digest& config) { return std::string(config.hex()) + ".json"; }

std::string docker_layer_member(const util::Digest& diff_id) { return std::string(diff_id.hex()) + ".tar"; }

std::string serialize_repositories(const std::map<std::string, std::map<std::string, std::string>>& repos) {
  OrderedJson out = OrderedJson::object();
  for (const auto& [repo, tags] : repos) {
    OrderedJson tag_map = OrderedJson::object();
    for (const auto& [tag, id] : tags) tag_map[tag] = id;
    out[repo] = std::move(tag_map);
  }
  return out.dump();
}

}  // namespace kiln::archive
