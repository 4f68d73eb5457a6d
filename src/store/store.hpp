// The per-user store: content-addressed blobs, extracted layers keyed by chain
// id, image and container records, a build cache directory and tmp/ staging,
// all under one root and shared by many kiln processes without a daemon.
//
// Layout under the root (0700):
//   version              store format ("1")
//   store.lock           flock: shared for readers, exclusive for a metadata commit
//   locks/<key>.lock     per-object locks (one layer extraction at a time)
//   driver               the snapshot driver probed once and remembered
//   blobs/sha256/<hex>   immutable blobs: layer tarballs, configs, manifests
//   layers/<hex>/        layer.json + diff/ (the extracted tree), <hex> = chain id
//   images/index         the image index (see image_index.hpp)
//   containers/<id>/     container.json + whatever the runtime keeps there
//   cache/               build cache, owned by the build module
//   tmp/                 staging entries (staging.hpp)
//
// Rules every function keeps: each write is staged in tmp/, fsynced, then
// published by rename(2); a record is published only after everything it points
// at; the exclusive lock is held only around publication (never while
// extracting, hashing or downloading); removal first unpublishes by renaming
// into tmp/, so a crash leaves only sweepable leftovers. Lock order: an object
// lock before the store lock, never the other way. Reads of one object
// (has_blob, read_blob, layer) take no lock: publication is a single rename.
// Reads across records (the image index, lists, check) take the shared lock.
//
// A Store object is for one thread; open another on the same root for another
// thread (flock then arbitrates between them as between processes).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/image_index.hpp"
#include "store/records.hpp"
#include "store/staging.hpp"
#include "util/lock.hpp"

namespace kiln::store {

/// What remove_image() did, for `rmi` to print ("Untagged:", "Deleted:").
struct RemovedImage {
  Digest id;
  std::vector<std::string> untagged;
  std::vector<Digest> layers;  // chain ids removed because nothing else used them
  std::vector<Digest> blobs;
};

/// What check() found (one line per problem) and, with repair, what it removed or fixed.
struct CheckReport {
  std::vector<std::string> problems;
  std::vector<std::string> repaired;
  std::vector<fs::path> swept;  // dead writers' leftovers removed from tmp/
  bool ok() const noexcept { return problems.empty(); }
};

/// What gc() removed.
struct GcReport {
  std::vector<Digest> layers;
  std::vector<Digest> blobs;
};

/// The default store root: /var/lib/kiln for root, else $XDG_DATA_HOME/kiln, else
/// $HOME/.local/share/kiln (values passed in, so this stays pure). Throws
/// kiln::Error(invalid_input) when neither variable is set for a non-root user.
fs::path default_root(uid_t uid, const char* xdg_data_home, const char* home);

/// A random container id: 64 hex digits from getrandom(2).
std::string new_container_id();

/// A layer extracted into a staging entry (its diff/) with its record, not yet
/// published: Store::publish_layers makes a batch of them durable and visible at once.
struct StagedLayer {
  LayerRecord record;
  StagingDir entry;
};

class Store {
public:
  /// The store format this code reads and writes.
  static constexpr int kFormatVersion = 1;

  /// Opens the store at root, creating the layout when missing (root 0700); throws
  /// kiln::Error when the root holds a store of another format version.
  static Store open(const fs::path& root);
  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  const fs::path& root() const noexcept { return root_; }
  fs::path tmp_dir() const { return root_ / "tmp"; }
  fs::path cache_dir() const { return root_ / "cache"; }

  // --- Locks -------------------------------------------------------------------------

  /// A hold on the store lock; reentrant within this Store (an exclusive hold also
  /// covers nested read_lock() calls). Released when the last guard goes.
  class Lock {
  public:
    Lock(Lock&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    Lock& operator=(Lock&&) = delete;
    ~Lock();

  private:
    friend class Store;
    struct State;
    explicit Lock(State* state) : state_(state) {}
    State* state_;
  };
  /// Shared hold: many readers at once. Blocks while a writer commits.
  Lock read_lock() const;
  /// Exclusive hold for a metadata commit; the first one in a Store also sweeps tmp/.
  /// Throws std::logic_error when this Store holds only a read lock (no upgrades).
  Lock write_lock();
  /// Exclusive per-object lock (locks/<key>.lock), e.g. "layer-<hex>"; key is [a-z0-9-_.].
  util::FileLock object_lock(std::string_view key);

  // --- Staging -----------------------------------------------------------------------

  /// A fresh locked directory in tmp/ for building something to publish.
  StagingDir staging_dir(std::string_view prefix);
  /// Removes dead writers' leftovers from tmp/ (cheap when it is empty).
  std::vector<fs::path> sweep();

  // --- Blobs -------------------------------------------------------------------------

  /// Stores bytes as a blob; with `expected`, a mismatch throws kiln::Error(corrupt) and
  /// stores nothing. Idempotent. Returns the digest.
  Digest put_blob(std::string_view bytes, const std::optional<Digest>& expected = std::nullopt);
  /// Stores a file as a blob: a file inside tmp/ is moved (consumed), any other is copied.
  /// Verifies `expected` like put_blob.
  Digest put_blob_file(const fs::path& file, const std::optional<Digest>& expected = std::nullopt);
  /// Stores a file this process wrote inside tmp/ (moved, consumed) whose digest it computed
  /// while writing it: not read again. Throws invalid_input for a file outside tmp/.
  Digest put_written_blob(const fs::path& file, const Digest& digest);
  bool has_blob(const Digest& digest) const;
  /// blobs/<algorithm>/<hex>, whether or not it exists.
  fs::path blob_path(const Digest& digest) const;
  /// Reads a whole blob; throws kiln::Error(not_found) when absent.
  std::string read_blob(const Digest& digest) const;
  /// Size in bytes; throws kiln::Error(not_found) when absent.
  std::uint64_t blob_size(const Digest& digest) const;
  /// The uncompressed size of a layer blob as far as it tells without reading it: a gzip
  /// blob's size field (mod 2^32, exact below 4 GiB), else the blob's own size.
  std::uint64_t layer_size_hint(const Digest& digest) const;
  /// Removes a blob no record uses; false if it was absent. Throws kiln::Error(conflict)
  /// when an image or layer record still points at it.
  bool remove_blob(const Digest& digest);
  std::vector<Digest> list_blobs() const;

  // --- Layers ------------------------------------------------------------------------

  bool has_layer(const Digest& chain) const;
  /// The extracted tree layers/<hex>/diff, whether or not it exists.
  fs::path layer_dir(const Digest& chain) const;
  /// The layer's record; throws kiln::Error(not_found).
  LayerRecord layer(const Digest& chain) const;
  std::optional<LayerRecord> try_layer(const Digest& chain) const;
  /// Publishes an extracted tree (a directory inside tmp/, moved) with its record. The
  /// record's parent and blob must already be in the store. If another process published
  /// the same chain id first, the existing record is returned and the tree discarded.
  LayerRecord publish_layer(LayerRecord record, const fs::path& staged_tree);
  /// Fills diff_dir (an empty directory in tmp/) and returns the layer's record.
  using ExtractFn = std::function<LayerRecord(const fs::path& diff_dir)>;
  /// Returns the layer, extracting it first when absent. Holds the layer's object lock
  /// while extracting (not the store lock), so concurrent callers extract once: the
  /// others wait, then reuse. The record returned by extract must carry chain_id.
  LayerRecord ensure_layer(const Digest& chain, const ExtractFn& extract);
  /// The object lock ensure_layer() holds while extracting chain: whoever holds it is the
  /// one extracting that layer.
  util::FileLock layer_lock(const Digest& chain);
  /// A fresh staging entry with an empty diff/ to extract a layer into (for publish_layers).
  StagingDir stage_layer();
  /// Publishes staged layers in order (each one's parent is in the store or earlier in
  /// layers): one syncfs flushes all their trees, then one exclusive hold renames them all
  /// and one fsync of layers/ makes the renames durable. A chain id another process
  /// published first is kept and its record returned. Returns the records in order.
  std::vector<LayerRecord> publish_layers(std::vector<StagedLayer>& layers);
  std::vector<LayerRecord> list_layers() const;
  /// Removes a layer; throws kiln::Error(conflict) when an image, container or layer
  /// above it uses it, not_found when absent.
  void remove_layer(const Digest& chain);

  // --- Images ------------------------------------------------------------------------

  /// Records an image (or merges names into the record with the same id). Its config,
  /// manifest and layers must be in the store (kiln::Error(not_found) otherwise), where a
  /// layer not yet extracted counts when its entry in layer_blobs is a stored blob; sets
  /// top_layer and size; takes its names away from other images. Returns what is stored.
  ImageRecord add_image(ImageRecord record);
  /// See ImageIndex::find; nullopt when nothing matches, kiln::Error for ambiguity.
  std::optional<ImageRecord> find_image(std::string_view name_or_id) const;
  /// Like find_image but throws kiln::Error(not_found) "no such image: X".
  ImageRecord image(std::string_view name_or_id) const;
  /// All image records, in insertion order: one file read and one parse.
  std::vector<ImageRecord> list_images() const;
  /// The whole index, shared and immutable: no copy of the records (what `images` uses).
  std::shared_ptr<const ImageIndex> image_index() const;
  /// Gives name to the image, taking it from any other (as docker tag); throws not_found.
  void tag(const Digest& id, const std::string& name);
  /// Removes a name; returns the image that had it; throws kiln::Error(not_found).
  Digest untag(std::string_view name);
  /// Removes an image record, then the layers and blobs nothing else uses. Throws
  /// kiln::Error(conflict) when a container uses the image, not_found when absent.
  RemovedImage remove_image(const Digest& id);
  /// Sum of the layers' uncompressed sizes (what add_image stores in size).
  std::uint64_t image_size(const std::vector<Digest>& layers) const;

  // --- Containers --------------------------------------------------------------------

  /// Creates containers/<id>/ with its record; assigns a random id when empty. The name
  /// must be unique (kiln::Error(conflict)); the image and top layer must exist.
  /// durable=false skips the fsyncs (staged and renamed all the same, so a kill -9 still
  /// leaves the old or the new record): for a `run --rm` container, which is deleted
  /// after its one run and which `system check` removes if a power loss tore its record.
  ContainerRecord add_container(ContainerRecord record, bool durable = true);
  /// Replaces an existing container's record (state changes); throws not_found.
  /// durable as for add_container.
  void update_container(const ContainerRecord& record, bool durable = true);
  /// By full id, exact name or unique id prefix (>= 3); kiln::Error for ambiguity.
  std::optional<ContainerRecord> find_container(std::string_view name_or_id) const;
  ContainerRecord container(std::string_view name_or_id) const;
  std::vector<ContainerRecord> list_containers() const;
  /// containers/<id>, whether or not it exists.
  fs::path container_dir(std::string_view id) const;
  /// Removes the container's directory and record; throws not_found. durable=false skips
  /// the directory fsync that makes the removal survive a power loss (a --rm container:
  /// a record that comes back is one whose process is gone, and the next reconcile
  /// removes it again). in_background: the directory tree is deleted by a child process
  /// (remove_in_background) once the record is gone: for a caller about to exit.
  void remove_container(std::string_view id, bool durable = true, bool in_background = false);

  // --- Maintenance -------------------------------------------------------------------

  /// Verifies every record, blob (re-hashed) and layer; with repair removes what is
  /// broken (and what only broken records used). Also sweeps tmp/.
  CheckReport check(bool repair);
  /// Removes layers and blobs no image or container uses and that are older than grace
  /// (younger ones may belong to a pull or build about to record them).
  GcReport gc(std::chrono::seconds grace = std::chrono::hours(1));

  /// The remembered snapshot driver, nullopt before one was probed.
  std::optional<std::string> driver() const;
  void set_driver(std::string_view name);

private:
  explicit Store(fs::path root);
  fs::path layer_path(const Digest& chain) const;
  fs::path index_path() const { return root_ / "images" / "index"; }
  // Stages data in tmp/, fsyncs it and renames it over target (durable=false: no fsyncs,
  // and a temporary beside target instead of a staging directory).
  // Caller holds what lock it needs.
  void publish_file(const fs::path& target, std::string_view data, bool durable = true);
  void publish_blob_file(const fs::path& staged, const Digest& digest);
  LayerRecord publish_staged_layer(LayerRecord record, StagingDir& entry);
  // Moves a published object into a fresh staging entry (unpublish) for later removal;
  // durable=false: without fsyncing the parent directory.
  void unpublish(const fs::path& path, std::vector<StagingDir>& graves, bool durable = true);
  // The current index, shared with the cache: copy it to change it.
  std::shared_ptr<const ImageIndex> load_index() const;
  void save_index(const ImageIndex& index);
  std::optional<ContainerRecord> read_container(const fs::path& dir) const;

  // The last parsed index and the identity of the file it came from: every save
  // renames a new file into place, so (inode, size, mtime, ctime) changes with it.
  struct IndexCache {
    std::uint64_t inode = 0, size = 0;
    std::int64_t mtime_ns = 0, ctime_ns = 0;
    std::shared_ptr<const ImageIndex> index;
  };
  fs::path root_;
  std::unique_ptr<Lock::State> lock_state_;
  mutable std::optional<IndexCache> index_cache_;
};

}  // namespace kiln::store
