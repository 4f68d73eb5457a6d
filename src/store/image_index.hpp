// The image index as data: every image record of a store in one value, with
// the lookups `kiln images`, `rmi` and `tag` need and the one cross-record
// rule (a name belongs to at most one image). The store keeps it in a single
// file, images/index, replaced atomically under the write lock, so a tag that
// moves a name from one image to another is one atomic step and listing 1,000
// images is one read and one parse. The file is line-oriented text, one image a
// line, tab-separated fields, lists comma-separated: JSON took ~30 ms to parse
// for 1,000 images here, this takes about one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.hpp"

namespace kiln::store {

class ImageIndex {
public:
  /// Parses the index file; throws kiln::Error(corrupt) naming `what` and the line.
  static ImageIndex parse(std::string_view text, std::string_view what);
  /// The index file's text (see image_index.cpp for the format).
  std::string serialize() const;

  const std::vector<ImageRecord>& images() const noexcept { return images_; }
  bool empty() const noexcept { return images_.empty(); }

  /// Looks up by exact (already normalized) name, repo digest, full id ("sha256:<hex>" or
  /// <hex>) or unique id prefix of at least 3 hex digits (with or without "sha256:").
  /// nullptr when nothing matches; throws kiln::Error(invalid_input) for an ambiguous prefix.
  const ImageRecord* find(std::string_view name_or_id) const;
  const ImageRecord* by_id(const Digest& id) const noexcept;
  /// The image carrying this exact name, or nullptr.
  const ImageRecord* by_name(std::string_view name) const noexcept;

  /// Inserts a record or, when its id is known, replaces the stored one keeping the union
  /// of names and repo digests. Its names are taken away from other images. Throws
  /// kiln::Error(invalid_input) for a name or media type with a tab, comma or newline, or
  /// a config digest other than the id.
  const ImageRecord& put(ImageRecord record);
  /// Gives name to image id, taking it away from any other image; throws not_found.
  void tag(const Digest& id, const std::string& name);
  /// Removes a name; returns the image that carried it, nullopt when none did.
  std::optional<Digest> untag(std::string_view name);
  /// Removes an image; returns its record, nullopt when absent.
  std::optional<ImageRecord> remove(const Digest& id);

private:
  void take_name_from_others(const Digest& keeper, const std::string& name);
  static void check_storable(const ImageRecord& record);
  std::vector<ImageRecord> images_;
};

}  // namespace kiln::store
