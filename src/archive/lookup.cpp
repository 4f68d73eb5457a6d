// Local image name resolution (see lookup.hpp for the order).
#include "archive/lookup.hpp"

#include "image/reference.hpp"
#include "util/error.hpp"

namespace kiln::archive {

FoundImage lookup_image(const store::ImageIndex& index, std::string_view text,
                        const std::vector<std::string>& search_registries) {
  if (text.empty()) return {};
  if (auto* image = index.by_name(text)) return {image, std::string(text)};
  auto ref = image::Reference::try_parse(text);
  if (ref && !ref->digest) {
    std::vector<std::string> candidates{ref->str()};
    if (!ref->explicit_registry) {
      candidates.push_back(image::Reference::parse_local(text).str());
      for (const auto& candidate : image::resolve_candidates(text, search_registries))
        candidates.push_back(candidate.str());
    }
    for (const auto& name : candidates)
      if (auto* image = index.by_name(name)) return {image, name};
  }
  // Repo digests and ids (find tries names first, which were covered above).
  if (auto* image = index.find(text)) {
    bool by_digest = ref && ref->digest;
    return {image, by_digest ? std::string(text) : std::string()};
  }
  if (ref && ref->digest) {
    if (auto* image = index.find(ref->str())) return {image, std::string()};
  }
  // A short name: the one stored name whose repository ends in it ("app" finds
  // quay.io/team/app:latest), as podman matches short names locally.
  if (ref && !ref->explicit_registry && !ref->digest) {
    std::string path = image::Reference::parse_local(text).repository;
    std::string suffix = "/" + path + ":" + ref->tag;
    FoundImage found;
    int matches = 0;
    for (const auto& image : index.images())
      for (const auto& name : image.names)
        if (name.ends_with(suffix)) {
          found = {&image, name};
          ++matches;
        }
    if (matches == 1) return found;
  }
  return {};
}

std::string normalize_new_name(std::string_view text) {
  auto ref = image::Reference::parse_local(text);
  if (ref.digest) fail(ErrorKind::invalid_input, "invalid reference \"{}\": a tag cannot name a digest", text);
  return ref.str();
}

}  // namespace kiln::archive
