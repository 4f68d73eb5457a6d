// Images: the index file images/index, read with one open and one parse
// (and cached by file identity within a Store), replaced under the write lock.
// Removing an image then collects the layers and blobs only it used.
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "store/failpoint.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::store {

std::shared_ptr<const ImageIndex> Store::load_index() const {
  auto path = index_path();
  auto fd = util::try_open_read(path);
  if (!fd) {
    index_cache_.reset();
    return std::make_shared<const ImageIndex>();
  }
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) throw util::sys_error("stat {}", path.string());
  auto ns = [](const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; };
  if (index_cache_ && index_cache_->inode == st.st_ino &&
      index_cache_->size == static_cast<std::uint64_t>(st.st_size) &&
      index_cache_->mtime_ns == ns(st.st_mtim) && index_cache_->ctime_ns == ns(st.st_ctim))
    return index_cache_->index;
  auto text = util::read_all(fd);
  auto index = std::make_shared<const ImageIndex>(ImageIndex::parse(text, path.string()));
  index_cache_ = IndexCache{static_cast<std::uint64_t>(st.st_ino), static_cast<std::uint64_t>(st.st_size),
                            ns(st.st_mtim), ns(st.st_ctim), index};
  return index;
}

void Store::save_index(const ImageIndex& index) {
  publish_file(index_path(), index.serialize());
  index_cache_.reset();
}

std::uint64_t Store::image_size(const std::vector<Digest>& layers) const {
  std::uint64_t total = 0;
  for (const auto& chain : layers)
    if (auto record = try_layer(chain)) total += record->size;
  return total;
}

ImageRecord Store::add_image(ImageRecord record) {
  std::string what = record.names.empty() ? record.id.str() : record.names.front();
  try {
    if (record.config_digest != record.id)
      fail(ErrorKind::invalid_input, "image id must be the config digest {}", record.config_digest.str());
    if (record.created == Clock::time_point{}) record.created = Clock::now();
    // The record may only point at what is on disk: checked under the lock, so a
    // concurrent rmi cannot take a layer away between this check and the commit.
    struct Placed {
      ImageRecord stored;
      std::string before, after;  // the index's text without and with the record
    };
    auto place = [&](ImageRecord r) {
      if (!has_blob(r.config_digest))
        fail(ErrorKind::not_found, "config blob {} is not in the store", r.config_digest.str());
      if (r.manifest_digest && !has_blob(*r.manifest_digest))
        fail(ErrorKind::not_found, "manifest blob {} is not in the store", r.manifest_digest->str());
      std::optional<Digest> below;
      r.size = 0;
      for (std::size_t i = 0; i < r.layers.size(); ++i) {
        const Digest& chain = r.layers[i];
        auto layer_record = try_layer(chain);
        if (layer_record) {
          if (layer_record->parent != below)
            fail(ErrorKind::invalid_input, "layer {} does not sit on the layer listed below it", chain.str());
          r.size += layer_record->size;
        } else if (i < r.layer_blobs.size() && has_blob(r.layer_blobs[i])) {
          r.size += layer_size_hint(r.layer_blobs[i]);  // extracted on first use
        } else {
          fail(ErrorKind::not_found, "layer {} is not in the store", chain.str());
        }
        below = chain;
      }
      r.top_layer = below;
      auto current = load_index();
      auto index = *current;
      Placed placed{index.put(std::move(r)), current->serialize(), {}};
      placed.after = index.serialize();
      return placed;
    };
    {
      // A rebuild that gives the same image under the same names changes nothing: a
      // shared lock suffices to see that, and nothing is written (or fsynced).
      auto lock = read_lock();
      Placed placed = place(record);
      if (placed.after == placed.before) return placed.stored;
    }
    auto lock = write_lock();
    Placed placed = place(std::move(record));
    if (placed.after != placed.before) {
      publish_file(index_path(), placed.after);
      index_cache_.reset();
    }
    return placed.stored;
  } catch (...) {
    util::rethrow_with("add image {}", what);
  }
}

std::optional<ImageRecord> Store::find_image(std::string_view name_or_id) const {
  auto lock = read_lock();
  auto index = load_index();
  if (auto* found = index->find(name_or_id)) return *found;
  return std::nullopt;
}

ImageRecord Store::image(std::string_view name_or_id) const {
  auto found = find_image(name_or_id);
  if (!found) fail(ErrorKind::not_found, "no such image: {}", name_or_id);
  return std::move(*found);
}

std::vector<ImageRecord> Store::list_images() const {
  auto lock = read_lock();
  return load_index()->images();
}

std::shared_ptr<const ImageIndex> Store::image_index() const {
  auto lock = read_lock();
  return load_index();
}

void Store::tag(const Digest& id, const std::string& name) {
  auto lock = write_lock();
  auto index = *load_index();
  index.tag(id, name);
  save_index(index);
}

Digest Store::untag(std::string_view name) {
  auto lock = write_lock();
  auto index = *load_index();
  auto id = index.untag(name);
  if (!id) fail(ErrorKind::not_found, "untag {}: no image has this name", name);
  save_index(index);
  return *id;
}

RemovedImage Store::remove_image(const Digest& id) {
  std::vector<StagingDir> graves;  // outlive the lock: deleting trees happens unlocked
  RemovedImage removed;
  removed.id = id;
  try {
    auto lock = write_lock();
    auto index = *load_index();
    auto containers = list_containers();
    for (const auto& container : containers)
      if (container.image_id == id)
        fail(ErrorKind::conflict, "image is in use by container {} ({})", container.name,
             container.id.substr(0, 12));
    auto record = index.remove(id);
    if (!record) fail(ErrorKind::not_found, "no such image: {}", id.str());
    // Record first: a crash after this leaves unreferenced layers (gc's work), never a
    // record that points at a removed layer.
    save_index(index);
    failpoint("image-record-removed");
    removed.untagged = record->names;

    std::set<Digest> used_layers;
    std::set<Digest> used_blobs;
    for (const auto& image : index.images()) {
      used_layers.insert(image.layers.begin(), image.layers.end());
      for (const auto& blob : referenced_blobs(image)) used_blobs.insert(blob);
    }
    for (const auto& container : containers) {
      // A container's rw layer sits on its top layer and, through it, on every parent.
      for (auto chain = container.top_layer; chain && used_layers.insert(*chain).second;) {
        auto layer_record = try_layer(*chain);
        chain = layer_record ? layer_record->parent : std::nullopt;
      }
    }
    // Doomed: this image's layers nobody else names. A layer on disk that stays (say, a
    // build's fresh layer not yet in an image) keeps its parents alive too.
    std::set<Digest> doomed;
    for (const auto& chain : record->layers)
      if (!used_layers.count(chain)) doomed.insert(chain);
    auto all_layers = list_layers();
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& layer_record : all_layers)
        if (!doomed.count(layer_record.chain_id) && layer_record.parent && doomed.erase(*layer_record.parent))
          changed = true;
    }
    std::vector<Digest> candidate_blobs = referenced_blobs(*record);
    for (const auto& layer_record : all_layers) {
      if (!layer_record.blob) continue;
      if (doomed.count(layer_record.chain_id))
        candidate_blobs.push_back(*layer_record.blob);
      else
        used_blobs.insert(*layer_record.blob);
    }
    // Top down, so a layer never loses its parent while it is still published.
    for (auto it = record->layers.rbegin(); it != record->layers.rend(); ++it) {
      if (!doomed.count(*it) || !has_layer(*it)) continue;  // a pulled layer never extracted
      unpublish(layer_path(*it), graves);
      removed.layers.push_back(*it);
      doomed.erase(*it);  // an image listing a layer twice removes it once
    }
    for (const auto& blob : candidate_blobs) {
      if (used_blobs.count(blob) || !has_blob(blob)) continue;
      unpublish(blob_path(blob), graves);
      removed.blobs.push_back(blob);
    }
  } catch (...) {
    util::rethrow_with("remove image {}", id.short_hex());
  }
  return removed;
}

}  // namespace kiln::store
