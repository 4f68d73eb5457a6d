// `image inspect` output. Names that fail to parse are skipped rather than
// failing the whole inspect: a store record written by another tool should
// not make its image uninspectable.
#include "image/inspect.hpp"

#include <algorithm>

#include "image/reference.hpp"

namespace kiln::image {
namespace {

void add_unique(std::vector<std::string>& list, std::string value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

std::string original_string(const ImageConfig& config, std::string_view key) {
  const OrderedJson* value = config.original_field(key);
  return value && value->is_string() ? value->get<std::string>() : std::string();
}

}  // namespace

std::vector<std::string> repo_tags(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    auto ref = Reference::try_parse(name);
    if (ref && !ref->tag.empty() && !ref->digest) add_unique(out, ref->tagged());
  }
  return out;
}

std::vector<std::string> repo_digests(const std::vector<std::string>& names,
                                      const std::vector<util::Digest>& digests) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    auto ref = Reference::try_parse(name);
    if (!ref) continue;
    if (ref->digest) add_unique(out, ref->digested());
    for (const auto& digest : digests)
      if (!digest.empty()) add_unique(out, ref->with_digest(digest).digested());
  }
  return out;
}

OrderedJson inspect_json(const InspectFacts& facts, const ImageConfig& config, const Manifest* manifest) {
  std::vector<util::Digest> digests = facts.digests;
  if (!facts.digest.empty() && std::find(digests.begin(), digests.end(), facts.digest) == digests.end())
    digests.insert(digests.begin(), facts.digest);

  OrderedJson out = OrderedJson::object();
  out["Id"] = std::string(facts.id.hex());
  out["Digest"] = facts.digest.str();
  out["RepoTags"] = repo_tags(facts.names);
  out["RepoDigests"] = repo_digests(facts.names, digests);
  out["Parent"] = facts.parent;
  out["Comment"] = original_string(config, "comment");
  out["Created"] = config.created.empty() ? "0001-01-01T00:00:00Z" : config.created;
  out["Config"] = run_config_json(config.config);
  out["Version"] = original_string(config, "docker_version");
  out["Author"] = config.author;
  out["Architecture"] = config.architecture;
  out["Os"] = config.os;
  if (!config.variant.empty()) out["Variant"] = config.variant;
  out["Size"] = facts.size;
  out["VirtualSize"] = facts.size;
  OrderedJson driver = OrderedJson::object();
  driver["Name"] = facts.graph_driver;
  driver["Data"] = facts.graph_driver_data;
  out["GraphDriver"] = std::move(driver);
  OrderedJson rootfs = OrderedJson::object();
  rootfs["Type"] = config.rootfs_type;
  rootfs["Layers"] = OrderedJson::array();
  for (const auto& id : config.diff_ids) rootfs["Layers"].push_back(id.str());
  out["RootFS"] = std::move(rootfs);
  out["Labels"] = config.config.labels.empty() ? OrderedJson() : OrderedJson(config.config.labels);
  out["Annotations"] = manifest ? OrderedJson(manifest->annotations) : OrderedJson::object();
  out["ManifestType"] = manifest ? manifest->media_type : std::string();
  out["User"] = config.config.user;
  out["History"] = OrderedJson::array();
  for (const auto& entry : config.history) out["History"].push_back(history_json(entry));
  out["NamesHistory"] = facts.names_history;
  return out;
}

}  // namespace kiln::image
