// Media types of the OCI image spec and Docker's image formats, and small
// predicates over them (is it a manifest, an index, a layer; how is a layer
// compressed). Docker schema 1 types are named only so they can be refused.
#pragma once

#include <string_view>

namespace kiln::image::media_type {

// OCI image spec v1.
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistributable =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNondistributableZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";

// Docker image manifest v2 schema 2 and manifest list.
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerForeignGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
// Docker schema 1: recognised only to refuse it with a clear message.
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// How a layer blob is compressed, from its media type.
enum class Compression { none, gzip, zstd };

/// True for single-image manifests (OCI or Docker v2s2).
constexpr bool is_manifest(std::string_view type) noexcept {
  return type == kOciManifest || type == kDockerManifest;
}
/// True for multi-platform indexes (OCI index or Docker manifest list).
constexpr bool is_index(std::string_view type) noexcept {
  return type == kOciIndex || type == kDockerManifestList;
}
constexpr bool is_schema1(std::string_view type) noexcept {
  return type == kDockerSchema1 || type == kDockerSchema1Signed;
}
constexpr bool is_config(std::string_view type) noexcept {
  return type == kOciConfig || type == kDockerConfig;
}
/// True for every layer media type kiln can extract.
constexpr bool is_layer(std::string_view type) noexcept {
  return type == kOciLayer || type == kOciLayerGzip || type == kOciLayerZstd ||
         type == kOciLayerNondistributable || type == kOciLayerNondistributableGzip ||
         type == kOciLayerNondistributableZstd || type == kDockerLayerGzip ||
         type == kDockerLayerForeignGzip;
}
/// Foreign / nondistributable layers are never pushed (their urls point elsewhere).
constexpr bool is_nondistributable(std::string_view type) noexcept {
  return type == kOciLayerNondistributable || type == kOciLayerNondistributableGzip ||
         type == kOciLayerNondistributableZstd || type == kDockerLayerForeignGzip;
}
/// Compression of a layer type; none for anything that is not a compressed layer.
constexpr Compression layer_compression(std::string_view type) noexcept {
  if (type.ends_with("+gzip") || type.ends_with(".tar.gzip")) return Compression::gzip;
  if (type.ends_with("+zstd")) return Compression::zstd;
  return Compression::none;
}
/// The layer type for a compression in the OCI (docker=false) or Docker v2s2 format.
/// Docker v2s2 has no uncompressed or zstd layer type; OCI's are used, as podman does.
constexpr std::string_view layer_type(Compression compression, bool docker = false) noexcept {
  switch (compression) {
    case Compression::gzip: return docker ? kDockerLayerGzip : kOciLayerGzip;
    case Compression::zstd: return kOciLayerZstd;
    case Compression::none: return kOciLayer;
  }
  return kOciLayer;
}

}  // namespace kiln::image::media_type
