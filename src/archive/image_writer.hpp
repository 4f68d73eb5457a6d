// Recording an image in the store: the one shared path by which import, load,
// commit, build and pull turn layers already in the store plus a config into
// an image. It writes the config blob byte for byte (its digest is the image
// id), builds a manifest whose layer descriptors point at the layers'
// compressed blobs, stores that, and adds the image record with its names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "image/manifest.hpp"
#include "image/media_types.hpp"
#include "store/store.hpp"

namespace kiln::archive {

struct WriteImageOptions {
  /// Full, normalised references ("localhost/app:latest"); may be empty (a dangling image).
  std::vector<std::string> names;
  /// Docker v2 schema 2 manifest instead of OCI.
  bool docker_format = false;
  /// Repo digests to remember ("docker.io/library/x@sha256:..."), as a pull knows them.
  std::vector<std::string> repo_digests;
};

/// What write_image stored.
struct WrittenImage {
  store::ImageRecord record;
  image::Manifest manifest;
};

/// Records an image made of `layers` (base first, each sitting on the one before, each
/// with a blob in the store) and `config_bytes` (stored exactly as given). Throws
/// kiln::Error(invalid_input) when the config does not parse or its rootfs.diff_ids do
/// not match the layers, not_found when a layer has no blob. Idempotent: the same
/// layers and config give the same manifest and merge names into the same record.
WrittenImage write_image(store::Store& store, const std::vector<store::LayerRecord>& layers,
                         std::string_view config_bytes, const WriteImageOptions& options = {});

/// The manifest write_image builds, without storing anything: layer media types follow
/// each blob's compression (read from its first bytes in the store).
image::Manifest build_manifest(const store::Store& store, const std::vector<store::LayerRecord>& layers,
                               std::string_view config_bytes, bool docker_format);

/// The compression of a stored blob from its magic bytes (gzip, zstd, else none).
image::media_type::Compression blob_compression(const store::Store& store, const util::Digest& blob);

}  // namespace kiln::archive
