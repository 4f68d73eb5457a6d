// Manifests and indexes as data: descriptors, the single-image manifest (OCI
// and Docker v2 schema 2 share its shape), the index / manifest list, parsing
// with errors that name the field, canonical output in the field order
// containers/image writes, detection of what an arbitrary manifest blob is,
// and choosing the host's entry from an index.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/platform.hpp"
#include "util/digest.hpp"
#include "util/json.hpp"

namespace kiln::image {

/// A content descriptor: what a manifest says about a blob or a child manifest.
struct Descriptor {
  std::string media_type;
  util::Digest digest;
  std::int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;  // index entries only
  std::string artifact_type;         // OCI 1.1, rarely set

  /// Reads a descriptor; throws invalid_input naming where and the field.
  static Descriptor from_json(const OrderedJson& value, std::string_view where);
  /// Go field order: OCI {mediaType, digest, size, ...}; Docker {mediaType, size, digest, ...}.
  OrderedJson to_json(bool docker_order = false) const;

  friend bool operator==(const Descriptor&, const Descriptor&) = default;
};

/// What a manifest blob is.
enum class ManifestKind { oci_manifest, oci_index, docker_manifest, docker_list, docker_schema1 };

/// The media type of a manifest blob, from its "mediaType" field, else its shape
/// (schemaVersion 1, config+layers, manifests), else the content type a registry
/// sent (may be empty). Throws invalid_input when none of these tells.
std::string detect_manifest_type(std::string_view text, std::string_view content_type = {});
/// The kind of a media type as detect_manifest_type returns it; throws invalid_input for others.
ManifestKind manifest_kind(std::string_view media_type);
/// Throws invalid_input "schema 1 manifests are not supported ..." for a schema 1 kind.
void refuse_schema1(ManifestKind kind);

/// A single-image manifest. Unknown top-level fields are kept in `extra` and written
/// back after the known ones.
class Manifest {
public:
  int schema_version = 2;
  std::string media_type;  // kOciManifest or kDockerManifest (empty only in odd OCI blobs)
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
  std::optional<Descriptor> subject;  // OCI 1.1
  std::string artifact_type;          // OCI 1.1
  OrderedJson extra = OrderedJson::object();

  /// Parses a manifest blob; throws invalid_input for bad JSON, missing fields,
  /// an index (use Index::parse) or schema 1.
  static Manifest parse(std::string_view text);
  /// Canonical compact JSON in containers/image's field order.
  std::string serialize() const;
  /// The bytes to store or push: the parsed text itself while nothing was changed
  /// (so the digest stays the registry's), else serialize().
  std::string bytes() const;
  util::Digest digest() const;
  bool is_docker() const;

private:
  std::string raw_;        // text this was parsed from
  std::string raw_canon_;  // serialize() right after parsing, to detect changes
};

/// An OCI index or Docker manifest list.
class Index {
public:
  int schema_version = 2;
  std::string media_type;  // kOciIndex or kDockerManifestList
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
  OrderedJson extra = OrderedJson::object();

  /// Parses an index blob; throws invalid_input.
  static Index parse(std::string_view text);
  std::string serialize() const;
  /// As Manifest::bytes().
  std::string bytes() const;
  util::Digest digest() const;

  /// The entry best suited to want (exact variant first, then the closest older one;
  /// entries without a platform are skipped), or nullptr.
  const Descriptor* find_platform(const Platform& want) const;
  /// Like find_platform but throws not_found naming the platform, as podman does:
  /// 'no image found in manifest list for architecture "arm64", variant "v8", OS "linux"'.
  const Descriptor& choose(const Platform& want) const;

private:
  std::string raw_;
  std::string raw_canon_;
};

}  // namespace kiln::image
