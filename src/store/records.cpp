// JSON form of the store records and the chain id rule.
#include "store/records.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::store {

Digest chain_id(const std::optional<Digest>& parent_chain, const Digest& diff_id) {
  if (!parent_chain) return diff_id;
  return util::sha256_of(parent_chain->str() + " " + diff_id.str());
}

std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids) {
  std::vector<Digest> out;
  out.reserve(diff_ids.size());
  std::optional<Digest> parent;
  for (const auto& diff : diff_ids) {
    parent = chain_id(parent, diff);
    out.push_back(*parent);
  }
  return out;
}

bool is_hex64(std::string_view text) noexcept {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

namespace {

// Field readers: every failure is a corrupt record named by `what`.
const Json& field(const Json& json, const char* key, std::string_view what) {
  auto it = json.find(key);
  if (it == json.end()) fail(ErrorKind::corrupt, "{}: missing field \"{}\"", what, key);
  return *it;
}

std::string string_field(const Json& json, const char* key, std::string_view what) {
  const Json& value = field(json, key, what);
  if (!value.is_string()) fail(ErrorKind::corrupt, "{}: field \"{}\" is not a string", what, key);
  return value.get<std::string>();
}

Digest digest_field(const Json& json, const char* key, std::string_view what) {
  auto text = string_field(json, key, what);
  if (!Digest::valid(text)) fail(ErrorKind::corrupt, "{}: field \"{}\" is not a digest", what, key);
  return Digest::parse(text);
}

std::optional<Digest> optional_digest(const Json& json, const char* key, std::string_view what) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return std::nullopt;
  return digest_field(json, key, what);
}

std::uint64_t size_field(const Json& json, const char* key, std::string_view what) {
  auto it = json.find(key);
  if (it == json.end()) return 0;
  if (!it->is_number_unsigned()) fail(ErrorKind::corrupt, "{}: field \"{}\" is not a size", what, key);
  return it->get<std::uint64_t>();
}

Clock::time_point time_field(const Json& json, const char* key, std::string_view what) {
  auto when = util::parse_rfc3339(string_field(json, key, what));
  if (!when) fail(ErrorKind::corrupt, "{}: field \"{}\" is not an RFC 3339 time", what, key);
  return *when;
}

std::vector<std::string> strings_field(const Json& json, const char* key, std::string_view what) {
  std::vector<std::string> out;
  auto it = json.find(key);
  if (it == json.end()) return out;
  if (!it->is_array()) fail(ErrorKind::corrupt, "{}: field \"{}\" is not a list", what, key);
  for (const auto& item : *it) {
    if (!item.is_string()) fail(ErrorKind::corrupt, "{}: field \"{}\" holds a non-string", what, key);
    out.push_back(item.get<std::string>());
  }
  return out;
}

Json optional_json(const std::optional<Digest>& digest) {
  return digest ? Json(digest->str()) : Json(nullptr);
}

}  // namespace

Json to_json(const LayerRecord& r) {
  return Json{{"chain_id", r.chain_id.str()},
              {"diff_id", r.diff_id.str()},
              {"parent", optional_json(r.parent)},
              {"blob", optional_json(r.blob)},
              {"compressed_size", r.compressed_size},
              {"size", r.size},
              {"created", util::rfc3339(r.created)}};
}

LayerRecord layer_from_json(const Json& json, std::string_view what) {
  if (!json.is_object()) fail(ErrorKind::corrupt, "{}: not a JSON object", what);
  LayerRecord r;
  r.chain_id = digest_field(json, "chain_id", what);
  r.diff_id = digest_field(json, "diff_id", what);
  r.parent = optional_digest(json, "parent", what);
  r.blob = optional_digest(json, "blob", what);
  r.compressed_size = size_field(json, "compressed_size", what);
  r.size = size_field(json, "size", what);
  r.created = time_field(json, "created", what);
  return r;
}

Json to_json(const ImageRecord& r) {
  Json layers = Json::array();
  for (const auto& layer : r.layers) layers.push_back(layer.str());
  Json layer_blobs = Json::array();
  for (const auto& blob : r.layer_blobs) layer_blobs.push_back(blob.str());
  return Json{{"id", r.id.str()},
              {"names", r.names},
              {"digests", r.digests},
              {"manifest_digest", optional_json(r.manifest_digest)},
              {"manifest_media_type", r.manifest_media_type},
              {"config_digest", r.config_digest.str()},
              {"top_layer", optional_json(r.top_layer)},
              {"layers", std::move(layers)},
              {"layer_blobs", std::move(layer_blobs)},
              {"created", util::rfc3339(r.created)},
              {"size", r.size}};
}

std::vector<Digest> referenced_blobs(const ImageRecord& record) {
  std::vector<Digest> out{record.config_digest};
  if (record.manifest_digest) out.push_back(*record.manifest_digest);
  out.insert(out.end(), record.layer_blobs.begin(), record.layer_blobs.end());
  return out;
}

ImageRecord image_from_json(const Json& json, std::string_view what) {
  if (!json.is_object()) fail(ErrorKind::corrupt, "{}: not a JSON object", what);
  ImageRecord r;
  r.id = digest_field(json, "id", what);
  r.names = strings_field(json, "names", what);
  r.digests = strings_field(json, "digests", what);
  r.manifest_digest = optional_digest(json, "manifest_digest", what);
  if (auto it = json.find("manifest_media_type"); it != json.end() && it->is_string())
    r.manifest_media_type = it->get<std::string>();
  r.config_digest = digest_field(json, "config_digest", what);
  r.top_layer = optional_digest(json, "top_layer", what);
  for (const auto& text : strings_field(json, "layers", what)) {
    if (!Digest::valid(text)) fail(ErrorKind::corrupt, "{}: bad layer id \"{}\"", what, text);
    r.layers.push_back(Digest::parse(text));
  }
  if (json.contains("layer_blobs"))
    for (const auto& text : strings_field(json, "layer_blobs", what)) {
      if (!Digest::valid(text)) fail(ErrorKind::corrupt, "{}: bad layer blob \"{}\"", what, text);
      r.layer_blobs.push_back(Digest::parse(text));
    }
  r.created = time_field(json, "created", what);
  r.size = size_field(json, "size", what);
  return r;
}

Json to_json(const ContainerRecord& r) {
  return Json{{"id", r.id},
              {"name", r.name},
              {"image_id", r.image_id.str()},
              {"top_layer", optional_json(r.top_layer)},
              {"created", util::rfc3339(r.created)},
              {"state", r.state}};
}

ContainerRecord container_from_json(const Json& json, std::string_view what) {
  if (!json.is_object()) fail(ErrorKind::corrupt, "{}: not a JSON object", what);
  ContainerRecord r;
  r.id = string_field(json, "id", what);
  if (!is_hex64(r.id)) fail(ErrorKind::corrupt, "{}: bad container id \"{}\"", what, r.id);
  r.name = string_field(json, "name", what);
  r.image_id = digest_field(json, "image_id", what);
  r.top_layer = optional_digest(json, "top_layer", what);
  r.created = time_field(json, "created", what);
  if (auto it = json.find("state"); it != json.end()) r.state = *it;
  return r;
}

}  // namespace kiln::store
