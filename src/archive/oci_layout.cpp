// OCI image layout metadata: see oci_layout.hpp.
#include "archive/oci_layout.hpp"

#include "image/media_types.hpp"
#include "image/reference.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace kiln::archive {

namespace media_type = image::media_type;

std::string oci_layout_file() { return R"({"imageLayoutVersion":"1.0.0"})"; }

void check_oci_layout(std::string_view text) {
  Json json = util::parse_json(text, "oci-layout");
  auto version = json.is_object() ? json.find("imageLayoutVersion") : json.end();
  if (!json.is_object() || version == json.end() || !version->is_string())
    fail(ErrorKind::invalid_input, "oci-layout: field \"imageLayoutVersion\" is missing");
  if (!version->get<std::string>().starts_with("1."))
    fail(ErrorKind::invalid_input, "oci-layout: unsupported image layout version \"{}\"",
         version->get<std::string>());
}

std::string oci_blob_member(const util::Digest& digest) {
  return fmt::format("blobs/{}/{}", digest.algorithm(), digest.hex());
}

std::optional<std::string> name_from_annotations(const std::map<std::string, std::string>& annotations) {
  std::string name;
  if (auto it = annotations.find(std::string(kContainerdNameAnnotation)); it != annotations.end())
    name = it->second;
  if (name.empty())
    if (auto it = annotations.find(std::string(kRefNameAnnotation)); it != annotations.end()) name = it->second;
  if (name.empty()) return std::nullopt;
  // podman's NormalizeName: a name without a registry goes to localhost/, so a bare
  // tag "latest" becomes localhost/latest:latest.
  return image::Reference::parse_local(name).str();
}

std::map<std::string, std::string> annotations_for_name(std::string_view full_name) {
  auto ref = image::Reference::parse(full_name);
  std::map<std::string, std::string> out;
  out[std::string(kContainerdNameAnnotation)] = ref.str();
  out[std::string(kRefNameAnnotation)] = ref.str();
  return out;
}

image::Manifest to_oci_manifest(const image::Manifest& manifest) {
  if (!manifest.is_docker()) return manifest;
  image::Manifest oci = manifest;
  oci.media_type = media_type::kOciManifest;
  oci.config.media_type = media_type::kOciConfig;
  for (auto& layer : oci.layers) {
    if (layer.media_type == media_type::kDockerLayerGzip) layer.media_type = media_type::kOciLayerGzip;
    else if (layer.media_type == media_type::kDockerLayerForeignGzip)
      layer.media_type = media_type::kOciLayerNondistributableGzip;
  }
  return oci;
}

}  // namespace kiln::archive
