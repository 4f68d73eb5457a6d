// Manifest and index parsing and output. Output follows the Go structs that
// containers/image and the OCI spec marshal (field order, omitted empties), so
// a manifest kiln creates looks like one podman creates; a parsed manifest is
// written back byte for byte while unchanged, since its digest names it.
#include "image/manifest.hpp"

#include "image/json_text.hpp"
#include "image/media_types.hpp"
#include "util/error.hpp"

namespace kiln::image {
namespace {

std::map<std::string, std::string> annotations_of(const OrderedJson& object, std::string_view where) {
  return field::string_map(object, "annotations", where);
}

int schema_version_of(const OrderedJson& object, std::string_view where) {
  std::int64_t version = field::integer(object, "schemaVersion", where, true);
  if (version != 2)
    fail(ErrorKind::invalid_input, "{}: unsupported schemaVersion {} (expected 2)", where, version);
  return 2;
}

// Unknown top-level fields, kept so that a rewrite loses nothing.
OrderedJson extra_fields(const OrderedJson& object, std::initializer_list<std::string_view> known) {
  OrderedJson extra = OrderedJson::object();
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) extra[key] = value;
  }
  return extra;
}

void add_extra(OrderedJson& out, const OrderedJson& extra) {
  for (const auto& [key, value] : extra.items())
    if (!out.contains(key)) out[key] = value;
}

OrderedJson object_of(std::string_view text, std::string_view what) {
  OrderedJson json = parse_ordered_json(text, what);
  field::require_object(json, what);
  return json;
}

}  // namespace

// --- Descriptor ---

Descriptor Descriptor::from_json(const OrderedJson& value, std::string_view where) {
  field::require_object(value, where);
  Descriptor d;
  d.media_type = field::string(value, "mediaType", where, true);
  std::string digest = field::string(value, "digest", where, true);
  if (!util::Digest::valid(digest))
    fail(ErrorKind::invalid_input, "{}: field \"digest\" is not a valid digest: \"{}\"", where, digest);
  d.digest = util::Digest::parse(digest);
  d.size = field::integer(value, "size", where, true);
  if (d.size < 0) fail(ErrorKind::invalid_input, "{}: field \"size\" is negative", where);
  d.urls = field::strings(value, "urls", where);
  d.annotations = annotations_of(value, where);
  if (const OrderedJson* platform = field::find(value, "platform"))
    d.platform = Platform::from_json(*platform, std::string(where) + " platform");
  d.artifact_type = field::string(value, "artifactType", where);
  return d;
}

OrderedJson Descriptor::to_json(bool docker_order) const {
  OrderedJson out = OrderedJson::object();
  out["mediaType"] = media_type;
  if (docker_order) {
    out["size"] = size;
    out["digest"] = digest.str();
  } else {
    out["digest"] = digest.str();
    out["size"] = size;
  }
  if (!urls.empty()) out["urls"] = urls;
  if (!annotations.empty()) out["annotations"] = annotations;
  if (platform) out["platform"] = platform->to_json();
  if (!artifact_type.empty()) out["artifactType"] = artifact_type;
  return out;
}

// --- detection ---

std::string detect_manifest_type(std::string_view text, std::string_view content_type) {
  OrderedJson json = object_of(text, "manifest");
  std::string declared = field::find(json, "mediaType") && json["mediaType"].is_string()
                             ? json["mediaType"].get<std::string>()
                             : std::string();
  if (!declared.empty()) return declared;
  if (const OrderedJson* version = field::find(json, "schemaVersion");
      version && version->is_number_integer() && version->get<int>() == 1)
    return std::string(json.contains("signatures") ? media_type::kDockerSchema1Signed
                                                   : media_type::kDockerSchema1);
  if (const OrderedJson* config = field::find(json, "config"); config && config->is_object()) {
    if (field::find(*config, "mediaType") && (*config)["mediaType"] == media_type::kDockerConfig)
      return std::string(media_type::kDockerManifest);
    return std::string(media_type::kOciManifest);
  }
  if (field::find(json, "manifests")) return std::string(media_type::kOciIndex);
  if (!content_type.empty()) return std::string(content_type);
  fail(ErrorKind::invalid_input, "manifest: cannot determine the manifest type (no mediaType, config or manifests)");
}

ManifestKind manifest_kind(std::string_view type) {
  if (type == media_type::kOciManifest) return ManifestKind::oci_manifest;
  if (type == media_type::kOciIndex) return ManifestKind::oci_index;
  if (type == media_type::kDockerManifest) return ManifestKind::docker_manifest;
  if (type == media_type::kDockerManifestList) return ManifestKind::docker_list;
  if (media_type::is_schema1(type)) return ManifestKind::docker_schema1;
  fail(ErrorKind::invalid_input, "unsupported manifest type \"{}\"", type);
}

void refuse_schema1(ManifestKind kind) {
  if (kind == ManifestKind::docker_schema1)
    fail(ErrorKind::invalid_input,
         "schema 1 manifests are not supported (the image needs to be pushed again with a current tool)");
}

// --- Manifest ---

Manifest Manifest::parse(std::string_view text) {
  constexpr std::string_view where = "manifest";
  OrderedJson json = object_of(text, where);
  std::string type = detect_manifest_type(text);
  ManifestKind kind = manifest_kind(type);
  refuse_schema1(kind);
  if (kind == ManifestKind::oci_index || kind == ManifestKind::docker_list)
    fail(ErrorKind::invalid_input, "manifest: expected an image manifest, got an index ({})", type);

  Manifest m;
  m.schema_version = schema_version_of(json, where);
  m.media_type = field::string(json, "mediaType", where);
  const OrderedJson* config = field::find(json, "config");
  if (!config) fail(ErrorKind::invalid_input, "manifest: missing field \"config\"");
  m.config = Descriptor::from_json(*config, "manifest config");
  if (const OrderedJson* layers = field::find(json, "layers")) {
    if (!layers->is_array()) fail(ErrorKind::invalid_input, "manifest: field \"layers\" must be an array");
    for (std::size_t i = 0; i < layers->size(); ++i)
      m.layers.push_back(Descriptor::from_json((*layers)[i], fmt::format("manifest layers[{}]", i)));
  }
  m.annotations = annotations_of(json, where);
  if (const OrderedJson* subject = field::find(json, "subject"))
    m.subject = Descriptor::from_json(*subject, "manifest subject");
  m.artifact_type = field::string(json, "artifactType", where);
  m.extra = extra_fields(json, {"schemaVersion", "mediaType", "artifactType", "config", "layers",
                                "subject", "annotations"});
  m.raw_ = std::string(text);
  m.raw_canon_ = m.serialize();
  return m;
}

bool Manifest::is_docker() const { return media_type == media_type::kDockerManifest; }

std::string Manifest::serialize() const {
  bool docker = is_docker();
  OrderedJson out = OrderedJson::object();
  out["schemaVersion"] = schema_version;
  if (!media_type.empty()) out["mediaType"] = media_type;
  if (!artifact_type.empty()) out["artifactType"] = artifact_type;
  out["config"] = config.to_json(docker);
  out["layers"] = OrderedJson::array();
  for (const auto& layer : layers) out["layers"].push_back(layer.to_json(docker));
  if (subject) out["subject"] = subject->to_json(docker);
  if (!annotations.empty()) out["annotations"] = annotations;
  add_extra(out, extra);
  return go_json(out);
}

std::string Manifest::bytes() const {
  std::string canonical = serialize();
  if (!raw_.empty() && canonical == raw_canon_) return raw_;
  return canonical;
}

util::Digest Manifest::digest() const { return util::sha256_of(bytes()); }

// --- Index ---

Index Index::parse(std::string_view text) {
  constexpr std::string_view where = "manifest list";
  OrderedJson json = object_of(text, where);
  std::string type = detect_manifest_type(text);
  ManifestKind kind = manifest_kind(type);
  refuse_schema1(kind);
  if (kind == ManifestKind::oci_manifest || kind == ManifestKind::docker_manifest)
    fail(ErrorKind::invalid_input, "manifest list: expected an index, got an image manifest ({})", type);

  Index index;
  index.schema_version = schema_version_of(json, where);
  index.media_type = field::string(json, "mediaType", where);
  const OrderedJson* manifests = field::find(json, "manifests");
  if (manifests && !manifests->is_array())
    fail(ErrorKind::invalid_input, "manifest list: field \"manifests\" must be an array");
  if (manifests)
    for (std::size_t i = 0; i < manifests->size(); ++i)
      index.manifests.push_back(
          Descriptor::from_json((*manifests)[i], fmt::format("manifest list manifests[{}]", i)));
  index.annotations = annotations_of(json, where);
  index.extra = extra_fields(json, {"schemaVersion", "mediaType", "manifests", "annotations"});
  index.raw_ = std::string(text);
  index.raw_canon_ = index.serialize();
  return index;
}

std::string Index::serialize() const {
  bool docker = media_type == media_type::kDockerManifestList;
  OrderedJson out = OrderedJson::object();
  out["schemaVersion"] = schema_version;
  if (!media_type.empty()) out["mediaType"] = media_type;
  out["manifests"] = OrderedJson::array();
  for (const auto& m : manifests) out["manifests"].push_back(m.to_json(docker));
  if (!annotations.empty()) out["annotations"] = annotations;
  add_extra(out, extra);
  return go_json(out);
}

std::string Index::bytes() const {
  std::string canonical = serialize();
  if (!raw_.empty() && canonical == raw_canon_) return raw_;
  return canonical;
}

util::Digest Index::digest() const { return util::sha256_of(bytes()); }

const Descriptor* Index::find_platform(const Platform& want) const {
  const Descriptor* best = nullptr;
  int best_rank = 0;
  for (const auto& entry : manifests) {
    if (!entry.platform || !media_type::is_manifest(entry.media_type)) continue;
    auto rank = platform_rank(want, *entry.platform);
    if (rank && (!best || *rank < best_rank)) {
      best = &entry;
      best_rank = *rank;
    }
  }
  return best;
}

const Descriptor& Index::choose(const Platform& want) const {
  if (const Descriptor* d = find_platform(want)) return *d;
  fail(ErrorKind::not_found, "no image found in manifest list for architecture \"{}\", variant \"{}\", OS \"{}\"",
       want.architecture, want.variant, want.os);
}

}  // namespace kiln::image
