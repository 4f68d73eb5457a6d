// Pushing one image from the store to a registry: the manifest in the format
// asked for (by default the image's own, byte for byte), layers recompressed
// from the stored blobs only when the compression changes or the stored blob is
// uncompressed (a build's layers: pushed as gzip by default) (the tar inside, and
// so the config and its diff ids, stay identical), every blob HEAD-checked
// first so nothing the registry has is sent again, mounted from another
// repository of the same registry when the image came from there, and the
// rest uploaded in parallel.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "image/media_types.hpp"
#include "image/reference.hpp"
#include "registry/client.hpp"
#include "registry/progress.hpp"
#include "registry/worker_pool.hpp"
#include "store/store.hpp"

namespace kiln::registry {

/// The manifest formats push writes.
enum class ManifestFormat { oci, docker };

/// Parses --format: "oci", "v2s2" (also "docker"); throws kiln::Error(invalid_input).
ManifestFormat parse_manifest_format(std::string_view text);

struct PushOptions {
  /// nullopt: the image's own format.
  std::optional<ManifestFormat> format;
  /// nullopt: each compressed layer keeps its compression, uncompressed ones become gzip.
  std::optional<image::media_type::Compression> compression;
  TransferProgress* progress = nullptr;
  std::size_t transfers = kDefaultTransfers;
};

/// What a push sent.
struct PushedImage {
  util::Digest manifest_digest;
  std::string manifest_media_type;
  std::size_t blobs_uploaded = 0;
  std::size_t blobs_mounted = 0;
  std::size_t blobs_existing = 0;
};

/// Pushes image to dest (its registry is client's host; tag, else the manifest digest).
/// Throws kiln::Error: not_found when a layer blob is missing from the store,
/// invalid_input for a format the layers cannot take (zstd in v2s2), unauthorized.
PushedImage push_image(store::Store& store, RegistryClient& client, const store::ImageRecord& image,
                       const image::Reference& dest, const PushOptions& options = {});

/// The repository of the same registry an image's blobs can be mounted from: the first
/// repo digest "registry/repo@..." on dest's registry in another repository; "" if none.
std::string mount_source(const store::ImageRecord& image, const image::Reference& dest);

}  // namespace kiln::registry
