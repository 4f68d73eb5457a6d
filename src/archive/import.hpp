// Getting layer content into the store: one layer blob (import_layer, what load,
// pull and build use) and a whole root filesystem tarball that becomes a
// one-layer image (import_rootfs, `kiln import`). Extraction runs with the ids
// of the current user namespace and writes overlay-style whiteouts, as the
// store's layer directories require. Run inside kiln's user namespace.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/image_writer.hpp"
#include "store/store.hpp"
#include "util/fd.hpp"

namespace kiln::archive {

struct ImportLayerOptions {
  /// The layer's diff id when known (from a config): saves a hashing pass and is verified.
  std::optional<util::Digest> diff_id;
  /// The blob digest when known (from a manifest): verified when the blob is stored.
  std::optional<util::Digest> blob_digest;
  /// Skip chown during extraction; nullopt: decide from userns::current_map().
  std::optional<bool> single_id;
};

/// Stores blob_file as a blob (moved when it lies in the store's tmp/, else copied),
/// computes its diff id and chain id over `parent`, and extracts it as that layer
/// unless the store has it already. Returns the layer's record. Throws kiln::Error:
/// invalid_input for a malformed or hostile tarball, corrupt for a digest mismatch.
store::LayerRecord import_layer(store::Store& store, const std::filesystem::path& blob_file,
                                const std::optional<util::Digest>& parent, const ImportLayerOptions& options = {});

/// The records of an image's layers, base first: the store's own for extracted layers;
/// for a layer a pull left unextracted (see store::ImageRecord::layer_blobs), a record
/// made from its blob and the config's diff id, whose tree is not there yet. Enough for
/// what needs only the blobs (save, push). Throws kiln::Error(corrupt) when the config
/// does not match the record's layers.
std::vector<store::LayerRecord> image_layers(const store::Store& store, const store::ImageRecord& image);

/// True when every layer of image is extracted.
bool image_unpacked(const store::Store& store, const store::ImageRecord& image);

/// Extracts the layers of image that are not extracted yet (a pull stores only blobs),
/// all at once, each checked against the config's diff id, and publishes them base
/// first in one batch; a concurrent unpack of the same layer is waited for and reused.
/// A mismatch or a hostile tarball is a kiln::Error naming the layer, and publishes
/// nothing. Run inside kiln's user namespace (files are chowned). No-op when all are there.
void unpack_image(store::Store& store, const store::ImageRecord& image, std::optional<bool> single_id = {});

struct ImportOptions {
  /// Full, normalised names for the new image; empty: a dangling image.
  std::vector<std::string> names;
  /// `--change` lines (CMD, ENV, ...) applied to the config.
  std::vector<std::string> changes;
  /// `--message`: the history entry's comment.
  std::string message;
  /// The image's creation time; default now.
  std::optional<std::chrono::system_clock::time_point> created;
  std::optional<bool> single_id;
  bool docker_format = false;
};

/// Reads a root filesystem tarball (plain, gzip, zstd, ...) from input to EOF and records
/// a one-layer image: the layer is a normalised re-tar of the extracted tree (gzip), so
/// the same content gives the same layer digest. `source` names the input in errors.
/// Nothing but tmp/ staging is touched before the input was read completely and safely.
WrittenImage import_rootfs(store::Store& store, util::Fd input, std::string_view source,
                           const ImportOptions& options = {});

/// The history line podman writes for an imported layer.
std::string import_created_by(const util::Digest& diff_id);

}  // namespace kiln::archive
