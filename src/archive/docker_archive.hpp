// The docker-archive format's metadata as data: manifest.json (one entry per
// image: its config member, its RepoTags and its layer members, base first) and
// the legacy "repositories" file, parsed and written as `docker save` and
// `podman save` write them. Which member names an entry uses is the writer's
// choice: the classic "<hex>.tar" / "<id>/layer.tar", or Docker 25's
// "blobs/sha256/<hex>"; the reader takes any.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/digest.hpp"

namespace kiln::archive {

/// One image of a docker archive.
struct DockerArchiveEntry {
  std::string config;                  // member holding the config ("<hex>.json")
  std::vector<std::string> repo_tags;  // as written: "busybox:latest", "docker.io/library/x:1"
  std::vector<std::string> layers;     // members holding the uncompressed layer tars, base first
  friend bool operator==(const DockerArchiveEntry&, const DockerArchiveEntry&) = default;
};

/// Parses manifest.json; throws kiln::Error(invalid_input) naming the entry and field.
std::vector<DockerArchiveEntry> parse_docker_manifest(std::string_view text);
/// manifest.json as docker writes it: [{"Config":..,"RepoTags":..,"Layers":[..]}].
std::string serialize_docker_manifest(const std::vector<DockerArchiveEntry>& entries);

/// The member names kiln writes: "<hex>.json" for a config, "<hex>.tar" for a layer
/// (hex of its diff id, so the member's sha256 is its name).
std::string docker_config_member(const util::Digest& config);
std::string docker_layer_member(const util::Digest& diff_id);

/// The legacy "repositories" file: {"<repository>": {"<tag>": "<top layer id>"}}, where the
/// layer id is the hex of the top layer's chain id (what containers/image writes).
std::string serialize_repositories(const std::map<std::string, std::map<std::string, std::string>>& repos);

}  // namespace kiln::archive
