// Image index lookups and the name-uniqueness rule.
#include "store/image_index.hpp"

#include <algorithm>
#include <charconv>

#include "util/error.hpp"

namespace kiln::store {

namespace {

constexpr std::size_t kMinPrefix = 3;

bool is_hex(std::string_view text) noexcept {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

template <typename T>
void erase_value(std::vector<T>& values, const T& value) {
  values.erase(std::remove(values.begin(), values.end(), value), values.end());
}

template <typename T>
void append_unique(std::vector<T>& values, const T& value) {
  if (std::find(values.begin(), values.end(), value) == values.end()) values.push_back(value);
}

}  // namespace

// Format, version 1:
//   kiln-image-index 1
//   <id hex> TAB <created, ns since the epoch> TAB <size> TAB <manifest digest> TAB
//     <manifest media type> TAB <names> TAB <repo digests> TAB <layer chain id hexes>
//     [TAB <layer blob hexes>]   (only when the record has layer_blobs)
//   ...
//   end <number of images>
// Empty fields and lists are "-"; lists are comma-separated. config_digest is the
// id and top_layer the last layer, so neither is written. The end line catches a
// truncated file even though publication by rename never produces one.

namespace {

constexpr std::string_view kHeader = "kiln-image-index 1";
constexpr std::size_t kFields = 8;  // and an optional ninth: the layer blobs

std::string_view or_dash(std::string_view text) { return text.empty() ? "-" : text; }

void append_list(std::string& out, const std::vector<std::string>& items) {
  if (items.empty()) out += '-';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += items[i];
  }
}

// Splits at sep into views of text.
std::vector<std::string_view> split_view(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    auto at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

template <typename Int>
bool parse_int(std::string_view text, Int& value) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool forbidden(std::string_view text) { return text.find_first_of("\t\n,") != std::string_view::npos; }

}  // namespace

void ImageIndex::check_storable(const ImageRecord& record) {
  if (record.config_digest != record.id)
    fail(ErrorKind::invalid_input, "image {}: the id must be the config digest", record.id.str());
  for (const auto& name : record.names)
    if (name.empty() || forbidden(name) || name.find(' ') != std::string::npos)
      fail(ErrorKind::invalid_input, "image name \"{}\" is not valid", name);
  for (const auto& digest : record.digests)
    if (digest.empty() || forbidden(digest) || digest.find(' ') != std::string::npos)
      fail(ErrorKind::invalid_input, "repo digest \"{}\" is not valid", digest);
  if (forbidden(record.manifest_media_type) || record.manifest_media_type == "-")
    fail(ErrorKind::invalid_input, "media type \"{}\" is not valid", record.manifest_media_type);
  if (!record.layer_blobs.empty() && record.layer_blobs.size() != record.layers.size())
    fail(ErrorKind::invalid_input, "image {}: {} layer blobs for {} layers", record.id.str(), record.layer_blobs.size(),
         record.layers.size());
}

ImageIndex ImageIndex::parse(std::string_view text, std::string_view what) {
  ImageIndex index;
  auto lines = split_view(text, '\n');
  if (lines.empty() || lines[0] != kHeader) fail(ErrorKind::corrupt, "{}: not an image index", what);
  std::size_t line_no = 1;
  auto bad = [&](std::string_view why) { fail(ErrorKind::corrupt, "{}:{}: {}", what, line_no, why); };
  auto digest_of = [&](std::string_view hex) {
    if (!is_hex64(hex)) bad("bad digest");
    return Digest::sha256_hex(hex);
  };
  bool ended = false;
  index.images_.reserve(lines.size());
  for (line_no = 2; line_no <= lines.size(); ++line_no) {
    std::string_view line = lines[line_no - 1];
    if (ended) {
      if (!line.empty()) bad("text after the end line");
      continue;
    }
    if (line.starts_with("end ")) {
      std::size_t count = 0;
      if (!parse_int(line.substr(4), count) || count != index.images_.size()) bad("wrong image count");
      ended = true;
      continue;
    }
    auto fields = split_view(line, '\t');
    if (fields.size() != kFields && fields.size() != kFields + 1) bad("wrong number of fields");
    ImageRecord r;
    r.id = r.config_digest = digest_of(fields[0]);
    std::int64_t ns = 0;
    if (!parse_int(fields[1], ns) || !parse_int(fields[2], r.size)) bad("bad number");
    r.created = Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
    if (fields[3] != "-") {
      if (!Digest::valid(fields[3])) bad("bad manifest digest");
      r.manifest_digest = Digest::parse(fields[3]);
    }
    if (fields[4] != "-") r.manifest_media_type = std::string(fields[4]);
    if (fields[5] != "-")
      for (auto name : split_view(fields[5], ',')) r.names.emplace_back(name);
    if (fields[6] != "-")
      for (auto digest : split_view(fields[6], ',')) r.digests.emplace_back(digest);
    if (fields[7] != "-")
      for (auto hex : split_view(fields[7], ',')) r.layers.push_back(digest_of(hex));
    if (!r.layers.empty()) r.top_layer = r.layers.back();
    if (fields.size() > kFields) {
      for (auto hex : split_view(fields[kFields], ',')) r.layer_blobs.push_back(digest_of(hex));
      if (r.layer_blobs.size() != r.layers.size()) bad("layer blobs do not match the layers");
    }
    index.images_.push_back(std::move(r));
  }
  if (!ended) fail(ErrorKind::corrupt, "{}: truncated (no end line)", what);
  return index;
}

std::string ImageIndex::serialize() const {
  std::string out;
  out.reserve(64 + images_.size() * 256);
  out += kHeader;
  out += '\n';
  for (const auto& r : images_) {
    out += r.id.hex();
    out += fmt::format("\t{}\t{}\t",
                       std::chrono::duration_cast<std::chrono::nanoseconds>(r.created.time_since_epoch()).count(),
                       r.size);
    out += r.manifest_digest ? std::string_view(r.manifest_digest->str()) : std::string_view("-");
    out += '\t';
    out += or_dash(r.manifest_media_type);
    out += '\t';
    append_list(out, r.names);
    out += '\t';
    append_list(out, r.digests);
    out += '\t';
    if (r.layers.empty()) out += '-';
    for (std::size_t i = 0; i < r.layers.size(); ++i) {
      if (i) out += ',';
      out += r.layers[i].hex();
    }
    for (std::size_t i = 0; i < r.layer_blobs.size(); ++i) {
      out += i ? ',' : '\t';
      out += r.layer_blobs[i].hex();
    }
    out += '\n';
  }
  out += fmt::format("end {}\n", images_.size());
  return out;
}

const ImageRecord* ImageIndex::by_id(const Digest& id) const noexcept {
  for (const auto& image : images_)
    if (image.id == id) return &image;
  return nullptr;
}

const ImageRecord* ImageIndex::by_name(std::string_view name) const noexcept {
  for (const auto& image : images_)
    if (std::find(image.names.begin(), image.names.end(), name) != image.names.end()) return &image;
  return nullptr;
}

const ImageRecord* ImageIndex::find(std::string_view name_or_id) const {
  if (name_or_id.empty()) return nullptr;
  if (auto* image = by_name(name_or_id)) return image;
  for (const auto& image : images_)
    if (std::find(image.digests.begin(), image.digests.end(), name_or_id) != image.digests.end())
      return &image;

  std::string_view hex = name_or_id;
  if (hex.starts_with("sha256:")) hex.remove_prefix(7);
  if (hex.size() < kMinPrefix || hex.size() > 64 || !is_hex(hex)) return nullptr;
  const ImageRecord* found = nullptr;
  std::size_t matches = 0;
  for (const auto& image : images_) {
    if (image.id.hex().starts_with(hex)) {
      found = &image;
      ++matches;
    }
  }
  if (matches > 1)
    fail(ErrorKind::invalid_input, "short id \"{}\" is ambiguous: it matches {} images", name_or_id, matches);
  return found;
}

void ImageIndex::take_name_from_others(const Digest& keeper, const std::string& name) {
  for (auto& image : images_)
    if (image.id != keeper) erase_value(image.names, name);
}

const ImageRecord& ImageIndex::put(ImageRecord record) {
  check_storable(record);
  // Only these are kept on disk: config digest = id, top layer = last layer.
  record.top_layer = record.layers.empty() ? std::nullopt : std::optional<Digest>(record.layers.back());
  for (const auto& name : record.names) take_name_from_others(record.id, name);
  for (auto& image : images_) {
    if (image.id != record.id) continue;
    for (const auto& name : image.names) append_unique(record.names, name);
    for (const auto& digest : image.digests) append_unique(record.digests, digest);
    image = std::move(record);
    return image;
  }
  images_.push_back(std::move(record));
  return images_.back();
}

void ImageIndex::tag(const Digest& id, const std::string& name) {
  auto it = std::find_if(images_.begin(), images_.end(), [&](const ImageRecord& r) { return r.id == id; });
  if (it == images_.end()) fail(ErrorKind::not_found, "tag {}: no image {}", name, id.str());
  if (name.empty() || forbidden(name) || name.find(' ') != std::string::npos)
    fail(ErrorKind::invalid_input, "image name \"{}\" is not valid", name);
  take_name_from_others(id, name);
  append_unique(it->names, name);
}

std::optional<Digest> ImageIndex::untag(std::string_view name) {
  for (auto& image : images_) {
    auto it = std::find(image.names.begin(), image.names.end(), name);
    if (it == image.names.end()) continue;
    image.names.erase(it);
    return image.id;
  }
  return std::nullopt;
}

std::optional<ImageRecord> ImageIndex::remove(const Digest& id) {
  auto it = std::find_if(images_.begin(), images_.end(), [&](const ImageRecord& r) { return r.id == id; });
  if (it == images_.end()) return std::nullopt;
  ImageRecord removed = std::move(*it);
  images_.erase(it);
  return removed;
}

}  // namespace kiln::store
