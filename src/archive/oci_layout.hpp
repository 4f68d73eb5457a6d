// The OCI image layout (image-spec "image-layout.md") as data: the oci-layout
// marker, index.json with one manifest descriptor per image name, blob member
// names, and how podman and docker turn a descriptor's annotations into an image
// name (io.containerd.image.name first, then org.opencontainers.image.ref.name,
// normalised with podman's localhost/ rule for names without a registry).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "image/manifest.hpp"
#include "util/digest.hpp"

namespace kiln::archive {

inline constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kContainerdNameAnnotation = "io.containerd.image.name";
inline constexpr std::string_view kOciLayoutMember = "oci-layout";
inline constexpr std::string_view kOciIndexMember = "index.json";

/// The oci-layout file's content: {"imageLayoutVersion":"1.0.0"}.
std::string oci_layout_file();
/// Checks an oci-layout file: valid JSON with a 1.x imageLayoutVersion; throws invalid_input.
void check_oci_layout(std::string_view text);

/// "blobs/sha256/<hex>" for a digest.
std::string oci_blob_member(const util::Digest& digest);

/// The image name a descriptor's annotations give, normalised ("docker.io/library/x:1",
/// "localhost/latest:latest" for a bare "latest"); nullopt when they name none. Throws
/// invalid_input for a name that is not a valid reference.
std::optional<std::string> name_from_annotations(const std::map<std::string, std::string>& annotations);

/// The annotations kiln writes for a named image: org.opencontainers.image.ref.name = the
/// full name (as podman writes it) and io.containerd.image.name = the same (docker, containerd).
std::map<std::string, std::string> annotations_for_name(std::string_view full_name);

/// Converts a Docker v2s2 manifest to OCI (media types of the manifest, config and
/// layers); an OCI manifest is returned unchanged.
image::Manifest to_oci_manifest(const image::Manifest& manifest);

}  // namespace kiln::archive
