// Finding an image the user named, as podman resolves names locally: an exact
// stored name, a repo digest, an id or unique id prefix, then the name
// normalised (docker.io/library/x:latest), its localhost/ form, each search
// registry's candidate, and last a unique stored name ending in "/repo:tag".
// Also the normalisation of a name for a new image (tag, import, build -t).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/image_index.hpp"

namespace kiln::archive {

/// An image found by lookup and how: by one of its names (the name) or by id (empty).
struct FoundImage {
  const store::ImageRecord* image = nullptr;
  std::string matched_name;  // the stored name that matched; empty when matched by id
};

/// Resolves text against the index; image is nullptr when nothing matches. Throws
/// kiln::Error(invalid_input) for an ambiguous id prefix.
FoundImage lookup_image(const store::ImageIndex& index, std::string_view text,
                        const std::vector<std::string>& search_registries = {"docker.io"});

/// The stored name for a new tag: "app" -> "localhost/app:latest", "quay.io/a/b" ->
/// "quay.io/a/b:latest". Throws kiln::Error(invalid_input) 'invalid reference "X": ...',
/// also for a reference with a digest (a tag cannot carry one).
std::string normalize_new_name(std::string_view text);

}  // namespace kiln::archive
