// The store's records as plain data: layers (keyed by chain id), images (keyed
// by config digest) and containers, their JSON form on disk, and the OCI chain
// id computation. Nothing here touches the file system; store.cpp and friends
// read and publish these records.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/digest.hpp"
#include "util/json.hpp"

namespace kiln::store {

using util::Digest;
using Clock = std::chrono::system_clock;

/// The OCI chain id of a layer: diff_id alone for the base layer, else
/// sha256(parent_chain + " " + diff_id) over their "sha256:..." strings.
Digest chain_id(const std::optional<Digest>& parent_chain, const Digest& diff_id);
/// Chain ids of a stack of layers given their diff ids, base first.
std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids);

/// An extracted layer: layers/<chain hex>/diff plus this record (layer.json).
struct LayerRecord {
  Digest chain_id;
  Digest diff_id;                       // digest of the uncompressed tar
  std::optional<Digest> parent;         // chain id of the layer below, none for a base layer
  std::optional<Digest> blob;           // compressed blob in blobs/, when kept
  std::uint64_t compressed_size = 0;    // size of blob, 0 when none
  std::uint64_t size = 0;               // uncompressed size (tar stream or tree bytes)
  Clock::time_point created{};
  friend bool operator==(const LayerRecord&, const LayerRecord&) = default;
};

/// An image: its config (id), manifest, names and layer stack.
struct ImageRecord {
  Digest id;                            // = config digest
  std::vector<std::string> names;       // normalized references, e.g. docker.io/library/busybox:latest
  std::vector<std::string> digests;     // repo digests, "docker.io/library/busybox@sha256:..."
  std::optional<Digest> manifest_digest;
  std::string manifest_media_type;
  Digest config_digest;
  std::optional<Digest> top_layer;      // chain id of the last layer; none for an image without layers
  std::vector<Digest> layers;           // chain ids, base first
  Clock::time_point created{};
  std::uint64_t size = 0;               // sum of the layers' uncompressed sizes (set by add_image)
  // The blob each layer is extracted from, in the order of layers, or empty. A pulled
  // image's layers are extracted on first use (archive::unpack_image): until then a
  // layer may be absent from layers/ as long as its blob is here.
  std::vector<Digest> layer_blobs;
  friend bool operator==(const ImageRecord&, const ImageRecord&) = default;
};

/// The blobs an image record points at: config, manifest and layer_blobs.
std::vector<Digest> referenced_blobs(const ImageRecord& record);

/// A container's record (containers/<id>/container.json); runtime owns `state`.
struct ContainerRecord {
  std::string id;                       // 64 hex digits
  std::string name;                     // unique among containers
  Digest image_id;
  std::optional<Digest> top_layer;      // the image layer its rw layer sits on
  Clock::time_point created{};
  Json state = Json::object();          // free-form runtime state
  friend bool operator==(const ContainerRecord&, const ContainerRecord&) = default;
};

Json to_json(const LayerRecord& record);
Json to_json(const ImageRecord& record);
Json to_json(const ContainerRecord& record);
/// Parsers throw kiln::Error(corrupt) naming `what` when a field is missing or malformed.
LayerRecord layer_from_json(const Json& json, std::string_view what);
ImageRecord image_from_json(const Json& json, std::string_view what);
ContainerRecord container_from_json(const Json& json, std::string_view what);

/// True for 64 lowercase hex digits (container ids, digest hex parts).
bool is_hex64(std::string_view text) noexcept;

}  // namespace kiln::store
