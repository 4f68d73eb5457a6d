// Pulling one image from a registry into the store: the manifest (an index or
// manifest list resolved to the wanted platform), the config, and the layer blobs,
// downloaded in parallel into tmp/ staging, every byte verified before anything is
// published. Layers are not extracted: the record lists their blobs and the first
// run, create or build extracts them (archive::unpack_image). A blob or layer the
// store has is not fetched again; a blob another kiln process is fetching into the
// same store is waited for (its object lock) and reused. The image record keeps
// the manifest bytes exactly as received, so pull by digest and RepoDigests stay
// the registry's.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "image/platform.hpp"
#include "image/reference.hpp"
#include "registry/client.hpp"
#include "registry/progress.hpp"
#include "registry/worker_pool.hpp"
#include "store/store.hpp"

namespace kiln::registry {

struct PullOptions {
  /// The platform to pick from an index; nullopt: this host's.
  std::optional<image::Platform> platform;
  /// Where progress goes; nullptr: nowhere.
  TransferProgress* progress = nullptr;
  /// Parallel layer downloads.
  std::size_t transfers = kDefaultTransfers;
};

/// What a pull stored.
struct PulledImage {
  store::ImageRecord record;
  util::Digest manifest_digest;        // of the single-image manifest kept
  std::optional<util::Digest> index_digest;  // of the index it was chosen from, if any
  std::size_t layers_downloaded = 0;
};

/// Pulls ref (its registry is client's host) into store; needs no user namespace. Throws kiln::Error: not_found for a missing image or no entry
/// for the platform, unauthorized, corrupt for a digest mismatch, invalid_input for
/// schema 1; the store is then left without any record of the image.
PulledImage pull_image(store::Store& store, RegistryClient& client, const image::Reference& ref,
                       const PullOptions& options = {});

/// The object lock key that serialises fetching one blob into a store: "blob-<hex>".
std::string blob_lock_key(const util::Digest& digest);

}  // namespace kiln::registry
