// The JSON `image inspect` prints, in podman's field order, built from an
// image's config and manifest plus the facts only the store knows (names,
// size, digests), which the caller passes in: this module does no store access.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "image/config.hpp"
#include "image/manifest.hpp"
#include "util/digest.hpp"
#include "util/json.hpp"

namespace kiln::image {

/// What the store knows about an image beyond its config and manifest.
struct InspectFacts {
  util::Digest id;                     // config digest
  util::Digest digest;                 // the manifest digest; may be empty
  std::vector<util::Digest> digests;   // every known manifest digest (pulled index, manifest, ...)
  std::vector<std::string> names;      // full references, tagged or digested
  std::vector<std::string> names_history;
  std::int64_t size = 0;               // unpacked size in bytes
  std::string parent;                  // id of the parent image (local builds), may be empty
  std::string graph_driver;            // "overlay", "vfs", ...
  std::map<std::string, std::string> graph_driver_data;  // LowerDir, UpperDir, ...
};

/// podman-style inspect object: Id, Digest, RepoTags, RepoDigests, Parent, Comment,
/// Created, Config, Version, Author, Architecture, Os, Size, VirtualSize, GraphDriver,
/// RootFS, Labels, Annotations, ManifestType, User, History, NamesHistory.
/// manifest may be null (an image without one yet).
OrderedJson inspect_json(const InspectFacts& facts, const ImageConfig& config, const Manifest* manifest);

/// RepoTags and RepoDigests as podman derives them: tagged names, and for each
/// repository named, repository@digest for every known digest (deduplicated, in order).
std::vector<std::string> repo_tags(const std::vector<std::string>& names);
std::vector<std::string> repo_digests(const std::vector<std::string>& names,
                                      const std::vector<util::Digest>& digests);

}  // namespace kiln::image
