// check() and gc(): the store verified against its invariants, broken parts
// reported one line each and, with repair, removed in dependency order (blobs,
// then layers, then the images and containers that pointed at them); and the
// collection of layers and blobs that no record uses any more.
#include <sys/stat.h>

#include <map>
#include <set>

#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::store {

namespace {

// Reports problems and, when repairing, what was done about them.
struct Findings {
  CheckReport& report;
  bool repair;
  void problem(std::string text) { report.problems.push_back(std::move(text)); }
  void repaired(std::string text) { report.repaired.push_back(std::move(text)); }
};

bool is_dir(const fs::path& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

CheckReport Store::check(bool repair) {
  CheckReport report;
  Findings out{report, repair};
  report.swept = sweep();
  std::vector<StagingDir> graves;
  // Repair commits; a plain check only reads.
  std::optional<Lock> lock;
  if (repair)
    lock.emplace(write_lock());
  else
    lock.emplace(read_lock());

  // Blobs: each file must hash to its name.
  std::set<Digest> blobs;
  std::error_code ec;
  for (fs::directory_iterator it(root_ / "blobs" / "sha256", ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    struct stat st;
    if (!is_hex64(name) || ::lstat(it->path().c_str(), &st) < 0 || !S_ISREG(st.st_mode)) {
      out.problem(fmt::format("blobs: unexpected entry {}", name));
      if (repair) {
        unpublish(it->path(), graves);
        out.repaired(fmt::format("removed stray entry blobs/sha256/{}", name));
      }
      continue;
    }
    auto digest = Digest::sha256_hex(name);
    auto actual = util::sha256_of_file(it->path());
    if (actual == digest) {
      blobs.insert(digest);
      continue;
    }
    out.problem(fmt::format("blob {}: content hashes to {}", digest.str(), actual.str()));
    if (repair) {
      unpublish(it->path(), graves);
      out.repaired(fmt::format("removed corrupt blob {}", digest.str()));
    }
  }

  // Layers: a readable record naming its own directory, a diff/ tree, a known blob and
  // a good parent (repeated until stable: a layer on a broken parent is broken).
  std::map<Digest, LayerRecord> layers;
  std::vector<Digest> records_to_fix;
  for (fs::directory_iterator it(root_ / "layers", ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    std::string why;
    std::optional<LayerRecord> record;
    if (!is_hex64(name)) {
      why = "unexpected entry";
    } else {
      try {
        record = try_layer(Digest::sha256_hex(name));
        if (!record) why = "no layer.json";
        else if (record->chain_id.hex() != name) why = "record names layer " + record->chain_id.str();
        else if (!is_dir(it->path() / "diff")) why = "diff directory missing";
      } catch (const std::exception& e) {
        why = util::describe(e);
      }
    }
    if (why.empty()) {
      layers.emplace(record->chain_id, *record);
      continue;
    }
    out.problem(fmt::format("layer {}: {}", name, why));
    if (repair) {
      unpublish(it->path(), graves);
      out.repaired(fmt::format("removed layer {}", name));
    }
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = layers.begin(); it != layers.end();) {
      const auto& record = it->second;
      if (!record.parent || layers.count(*record.parent)) {
        ++it;
        continue;
      }
      out.problem(fmt::format("layer {}: parent layer {} is missing or broken", record.chain_id.str(),
                              record.parent->str()));
      if (repair) {
        unpublish(layer_path(record.chain_id), graves);
        out.repaired(fmt::format("removed layer {}", record.chain_id.str()));
      }
      it = layers.erase(it);
      changed = true;
    }
  }
  for (auto& [chain, record] : layers) {
    if (!record.blob || blobs.count(*record.blob)) continue;
    out.problem(fmt::format("layer {}: blob {} is missing", chain.str(), record.blob->str()));
    if (repair) {
      // The tree is intact; only the compressed copy is gone (a push recompresses).
      record.blob.reset();
      record.compressed_size = 0;
      publish_file(layer_path(chain) / "layer.json", to_json(record).dump());
      out.repaired(fmt::format("dropped the blob reference of layer {}", chain.str()));
    }
  }

  // Images: config, manifest and every layer present, a consistent stack, unique names.
  ImageIndex index;
  bool index_changed = false;
  try {
    index = *load_index();
  } catch (const std::exception& e) {
    out.problem(fmt::format("image index: {}", util::describe(e)));
    if (repair) {
      index_changed = true;
      out.repaired("replaced the unreadable image index with an empty one");
    }
  }
  std::set<std::string> names_seen;
  std::vector<Digest> broken_images;
  for (const auto& image : index.images()) {
    std::vector<std::string> why;
    if (!blobs.count(image.config_digest)) why.push_back("config blob " + image.config_digest.str() + " missing");
    if (image.manifest_digest && !blobs.count(*image.manifest_digest))
      why.push_back("manifest blob " + image.manifest_digest->str() + " missing");
    std::optional<Digest> below;
    for (std::size_t i = 0; i < image.layers.size(); ++i) {
      const Digest& chain = image.layers[i];
      auto found = layers.find(chain);
      if (found != layers.end()) {
        if (found->second.parent != below) why.push_back("layer " + chain.str() + " out of order");
      } else if (i < image.layer_blobs.size()) {
        // Not extracted yet: its blob must be here.
        if (!blobs.count(image.layer_blobs[i]))
          why.push_back("layer " + chain.str() + " missing, and its blob " + image.layer_blobs[i].str());
      } else {
        why.push_back("layer " + chain.str() + " missing");
      }
      below = chain;
    }
    if (image.top_layer != below) why.push_back("top layer is not the last layer");
    for (const auto& name : image.names)
      if (!names_seen.insert(name).second) why.push_back("name " + name + " also names another image");
    if (why.empty()) continue;
    for (const auto& w : why) out.problem(fmt::format("image {}: {}", image.id.short_hex(), w));
    if (repair) broken_images.push_back(image.id);
  }
  for (const auto& id : broken_images) {
    index.remove(id);
    index_changed = true;
    out.repaired(fmt::format("removed image {}", id.str()));
  }
  if (index_changed) save_index(index);

  // Containers: a readable record under its own id, on an existing image and layer.
  for (fs::directory_iterator it(root_ / "containers", ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    std::string why;
    try {
      auto record = is_hex64(name) ? read_container(it->path()) : std::nullopt;
      if (!is_hex64(name)) why = "unexpected entry";
      else if (!record) why = "no container.json";
      else if (record->id != name) why = "record names container " + record->id;
      else if (!index.by_id(record->image_id)) why = "image " + record->image_id.str() + " missing";
      else if (record->top_layer && !layers.count(*record->top_layer))
        why = "layer " + record->top_layer->str() + " missing";
    } catch (const std::exception& e) {
      why = util::describe(e);
    }
    if (why.empty()) continue;
    out.problem(fmt::format("container {}: {}", name.substr(0, 12), why));
    if (repair) {
      unpublish(it->path(), graves);
      out.repaired(fmt::format("removed container {}", name));
    }
  }
  lock.reset();
  return report;
}

GcReport Store::gc(std::chrono::seconds grace) {
  GcReport report;
  std::vector<StagingDir> graves;
  auto lock = write_lock();
  auto now = std::chrono::system_clock::now();
  auto old_enough = [&](const fs::path& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) < 0) return false;
    return now - std::chrono::system_clock::from_time_t(st.st_mtime) >= grace;
  };

  std::set<Digest> used_layers, used_blobs;
  auto index = *load_index();
  for (const auto& image : index.images()) {
    used_layers.insert(image.layers.begin(), image.layers.end());
    for (const auto& blob : referenced_blobs(image)) used_blobs.insert(blob);
  }
  std::map<Digest, LayerRecord> layers;
  for (auto& record : list_layers()) layers.emplace(record.chain_id, std::move(record));
  for (const auto& container : list_containers())
    if (container.top_layer) used_layers.insert(*container.top_layer);
  // Young layers are kept as if used; everything below a kept layer is kept too.
  for (const auto& [chain, record] : layers)
    if (!old_enough(layer_path(chain))) used_layers.insert(chain);
  std::set<Digest> kept;
  for (const auto& chain : used_layers) {
    for (std::optional<Digest> at = chain; at && kept.insert(*at).second;) {
      auto found = layers.find(*at);
      at = found == layers.end() ? std::nullopt : found->second.parent;
    }
  }
  for (const auto& [chain, record] : layers) {
    if (kept.count(chain)) {
      if (record.blob) used_blobs.insert(*record.blob);
      continue;
    }
    unpublish(layer_path(chain), graves);
    report.layers.push_back(chain);
  }
  for (const auto& blob : list_blobs()) {
    if (used_blobs.count(blob) || !old_enough(blob_path(blob))) continue;
    unpublish(blob_path(blob), graves);
    report.blobs.push_back(blob);
  }
  return report;
}

}  // namespace kiln::store
