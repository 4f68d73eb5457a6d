// Layers: layers/<chain hex>/ holds layer.json and diff/, published together by
// one rename of a fully written, synced staging directory. ensure_layer()
// serialises extraction of one chain id across processes with an object lock.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "store/failpoint.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::store {

namespace {

constexpr const char* kLayerRecord = "layer.json";

// Flushes a whole extracted tree at once: one syncfs instead of an fsync per file.
void sync_tree(const fs::path& dir) {
  auto fd = util::open_file(dir, O_RDONLY | O_DIRECTORY);
  if (::syncfs(fd.get()) < 0) throw util::sys_error("syncfs {}", dir.string());
}

// A layer record may be published only when its parent layer and its blob are there.
void require_references(const Store& store, const LayerRecord& record) {
  if (record.parent && !store.has_layer(*record.parent))
    fail(ErrorKind::not_found, "layer {}: parent layer {} is not in the store", record.chain_id.str(),
         record.parent->str());
  if (record.blob && !store.has_blob(*record.blob))
    fail(ErrorKind::not_found, "layer {}: blob {} is not in the store", record.chain_id.str(),
         record.blob->str());
}

}  // namespace

fs::path Store::layer_path(const Digest& chain) const { return root_ / "layers" / std::string(chain.hex()); }

fs::path Store::layer_dir(const Digest& chain) const { return layer_path(chain) / "diff"; }

bool Store::has_layer(const Digest& chain) const {
  struct stat st;
  return ::stat((layer_path(chain) / kLayerRecord).c_str(), &st) == 0;
}

std::optional<LayerRecord> Store::try_layer(const Digest& chain) const {
  auto path = layer_path(chain) / kLayerRecord;
  auto text = util::try_read_file(path);
  if (!text) return std::nullopt;
  return layer_from_json(util::parse_json(*text, path.string()), path.string());
}

LayerRecord Store::layer(const Digest& chain) const {
  auto record = try_layer(chain);
  if (!record) fail(ErrorKind::not_found, "layer {} is not in the store", chain.str());
  return std::move(*record);
}

LayerRecord Store::publish_staged_layer(LayerRecord record, StagingDir& entry) {
  if (chain_id(record.parent, record.diff_id) != record.chain_id)
    fail(ErrorKind::invalid_input, "layer {}: chain id does not follow from parent and diff id",
         record.chain_id.str());
  if (record.created == Clock::time_point{}) record.created = Clock::now();
  // No fsyncs of its own: the sync of the whole staged entry right after covers it.
  util::write_file_replace(entry.path() / kLayerRecord, to_json(record).dump());
  sync_tree(entry.path());

  auto lock = write_lock();
  if (auto existing = try_layer(record.chain_id)) return std::move(*existing);  // someone was first
  require_references(*this, record);
  failpoint("layer-before-rename");
  util::rename_durable(entry.path(), layer_path(record.chain_id));
  failpoint("layer-after-rename");
  entry.keep();
  return record;
}

LayerRecord Store::publish_layer(LayerRecord record, const fs::path& staged_tree) {
  try {
    StagingDir entry = staging_dir("layer");
    fs::path diff = entry.path() / "diff";
    if (::rename(staged_tree.c_str(), diff.c_str()) < 0)
      throw util::sys_error("rename {} to {}", staged_tree.string(), diff.string());
    return publish_staged_layer(std::move(record), entry);
  } catch (...) {
    util::rethrow_with("publish layer {}", record.chain_id.str());
  }
}

LayerRecord Store::ensure_layer(const Digest& chain, const ExtractFn& extract) {
  if (auto existing = try_layer(chain)) return std::move(*existing);
  try {
    // Everyone needing this layer queues here; the first extracts, the rest find it done.
    auto object = layer_lock(chain);
    if (auto existing = try_layer(chain)) return std::move(*existing);
    StagingDir entry = staging_dir("layer");
    fs::path diff = entry.path() / "diff";
    util::make_dirs(diff, 0755);
    LayerRecord record = extract(diff);
    failpoint("layer-extracted");
    if (record.chain_id != chain)
      fail(ErrorKind::invalid_input, "extraction produced layer {}", record.chain_id.str());
    return publish_staged_layer(std::move(record), entry);
  } catch (...) {
    util::rethrow_with("layer {}", chain.str());
  }
}

util::FileLock Store::layer_lock(const Digest& chain) { return object_lock(fmt::format("layer-{}", chain.hex())); }

StagingDir Store::stage_layer() {
  StagingDir entry = staging_dir("layer");
  util::make_dirs(entry.path() / "diff", 0755);
  return entry;
}

std::vector<LayerRecord> Store::publish_layers(std::vector<StagedLayer>& layers) {
  std::vector<LayerRecord> out;
  if (layers.empty()) return out;
  try {
    for (auto& staged : layers) {
      LayerRecord& record = staged.record;
      if (chain_id(record.parent, record.diff_id) != record.chain_id)
        fail(ErrorKind::invalid_input, "layer {}: chain id does not follow from parent and diff id",
             record.chain_id.str());
      if (record.created == Clock::time_point{}) record.created = Clock::now();
      // No fsync of its own: the syncfs below covers the record with the trees.
      util::write_file_replace(staged.entry.path() / kLayerRecord, to_json(record).dump());
    }
    failpoint("layer-extracted");
    sync_tree(layers.front().entry.path());  // tmp/ is one file system: one flush for all

    auto lock = write_lock();
    // Renames done before a failure below must be durable too before others build on them.
    struct SyncLayersDir {
      fs::path dir;
      ~SyncLayersDir() {
        if (dir.empty()) return;
        int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return;
        util::UniqueFd owned(util::adopt, fd);
        ::fsync(owned.get());
      }
    } on_failure{root_ / "layers"};
    for (auto& staged : layers) {
      const LayerRecord& record = staged.record;
      if (auto existing = try_layer(record.chain_id)) {  // someone was first
        out.push_back(std::move(*existing));
        continue;
      }
      require_references(*this, record);
      failpoint("layer-before-rename");
      fs::path target = layer_path(record.chain_id);
      if (::rename(staged.entry.path().c_str(), target.c_str()) < 0)
        throw util::sys_error("rename {} to {}", staged.entry.path().string(), target.string());
      staged.entry.keep();
      failpoint("layer-after-rename");
      out.push_back(record);
    }
    on_failure.dir.clear();
    util::fsync_path(root_ / "layers");
    return out;
  } catch (...) {
    util::rethrow_with("publish {} layers", layers.size());
  }
}

std::vector<LayerRecord> Store::list_layers() const {
  std::vector<LayerRecord> out;
  std::error_code ec;
  for (fs::directory_iterator it(root_ / "layers", ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (!is_hex64(name)) continue;
    try {
      if (auto record = try_layer(Digest::sha256_hex(name))) out.push_back(std::move(*record));
    } catch (const Error&) {
      // A corrupt record is check()'s business; listing skips it.
    }
  }
  return out;
}

void Store::remove_layer(const Digest& chain) {
  std::vector<StagingDir> graves;  // destroyed after the lock: the slow delete runs unlocked
  auto lock = write_lock();
  if (!has_layer(chain) && !fs::exists(layer_path(chain)))
    fail(ErrorKind::not_found, "layer {} is not in the store", chain.str());
  auto index = *load_index();
  for (const auto& image : index.images())
    for (const auto& used : image.layers)
      if (used == chain)
        fail(ErrorKind::conflict, "layer {} is used by image {}", chain.str(), image.id.short_hex());
  for (const auto& container : list_containers())
    if (container.top_layer == chain)
      fail(ErrorKind::conflict, "layer {} is used by container {}", chain.str(), container.id.substr(0, 12));
  for (const auto& other : list_layers())
    if (other.parent == chain)
      fail(ErrorKind::conflict, "layer {} is the parent of layer {}", chain.str(), other.chain_id.short_hex());
  unpublish(layer_path(chain), graves);
}

}  // namespace kiln::store
