// pull_image (see pull.hpp). Downloads run on a worker pool, each with a Store
// of its own (a Store is for one thread); the calling thread extracts the
// layers in order as their blobs arrive, because a layer is published only on
// top of its published parent.
#include "registry/pull.hpp"

#include <fcntl.h>

#include <condition_variable>
#include <exception>
#include <mutex>

#include "image/config.hpp"
#include "image/manifest.hpp"
#include "image/media_types.hpp"
#include "layer/apply.hpp"
#include "userns/userns.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kiln::registry {

namespace {

namespace media_type = image::media_type;

// One layer's download, shared between its job and the extracting thread.
struct LayerSlot {
  image::Descriptor descriptor;
  util::Digest chain;
  std::size_t progress_slot = 0;
  bool done = false;
  std::exception_ptr error;
};

// Blocks until every slot up to and including index is done; rethrows its failure.
class Arrivals {
public:
  void mark(LayerSlot& slot, std::exception_ptr error) {
    {
      std::lock_guard lock(mutex_);
      slot.done = true;
      slot.error = std::move(error);
    }
    changed_.notify_all();
  }
  void wait(LayerSlot& slot) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return slot.done; });
    if (slot.error) std::rethrow_exception(slot.error);
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
};

// Fetches a blob into the store unless it is there: under the blob's object lock, so a
// second kiln process pulling the same blob waits here and then finds it stored.
void fetch_blob(store::Store& store, RegistryClient& client, const std::string& repository,
                const image::Descriptor& descriptor, const ProgressFn& progress) {
  util::FileLock lock = store.object_lock(blob_lock_key(descriptor.digest));
  if (store.has_blob(descriptor.digest)) return;
  store::StagingDir staging = store.staging_dir("pull");
  std::filesystem::path file = staging.path() / "blob";
  {
    util::UniqueFd out = util::open_file(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::optional<std::uint64_t> size;
    if (descriptor.size > 0) size = static_cast<std::uint64_t>(descriptor.size);
    client.get_blob(repository, descriptor.digest, out, progress, size);
    if (::fsync(out.get()) < 0) throw util::sys_error("fsync {}", file.string());
  }
  store.put_blob_file(file, descriptor.digest);
}

store::LayerRecord extract_layer(store::Store& store, const LayerSlot& slot, const std::optional<util::Digest>& parent,
                                 const util::Digest& diff_id, bool single_id) {
  return store.ensure_layer(slot.chain, [&](const std::filesystem::path& diff_dir) {
    layer::ApplyOptions apply;
    apply.chown = !single_id;
    apply.single_id = single_id;
    apply.whiteout_mode = layer::WhiteoutMode::overlay;
    util::UniqueFd in = util::open_read(store.blob_path(slot.descriptor.digest));
    layer::ApplyResult applied = layer::apply_layer(in, diff_dir, apply);
    if (applied.diff_id != diff_id)
      fail(ErrorKind::corrupt, "layer {} has diff id {}, the config says {}", slot.descriptor.digest.str(),
           applied.diff_id.str(), diff_id.str());
    store::LayerRecord record;
    record.chain_id = slot.chain;
    record.diff_id = diff_id;
    record.parent = parent;
    record.blob = slot.descriptor.digest;
    record.compressed_size = applied.compressed_size;
    record.size = applied.uncompressed_size;
    record.created = store::Clock::now();
    return record;
  });
}

// The single-image manifest for ref: itself, or the index entry for the platform.
Manifest resolve_manifest(RegistryClient& client, const image::Reference& ref, const PullOptions& options,
                          std::optional<util::Digest>& index_digest) {
  std::string target = ref.digest ? ref.digest->str() : ref.tag;
  Manifest top = client.get_manifest(ref.repository, target);
  if (media_type::is_manifest(top.media_type)) {
    return top;
  }
  if (!media_type::is_index(top.media_type))
    fail(ErrorKind::invalid_input, "{} is not an image manifest (media type {})", ref.str(), top.media_type);
  image::Index index = image::Index::parse(top.bytes);
  image::Platform want = options.platform ? options.platform->normalized() : image::host_platform();
  const image::Descriptor& entry = index.choose(want);
  index_digest = top.digest;
  Manifest chosen = client.get_manifest(ref.repository, entry.digest.str());
  if (!media_type::is_manifest(chosen.media_type))
    fail(ErrorKind::invalid_input, "manifest {} for {} is not an image manifest (media type {})", entry.digest.str(),
         want.str(), chosen.media_type);
  return chosen;
}

}  // namespace

std::string blob_lock_key(const util::Digest& digest) { return "blob-" + std::string(digest.hex()); }

PulledImage pull_image(store::Store& store, RegistryClient& client, const image::Reference& ref,
                       const PullOptions& options) {
  try {
    PulledImage result;
    Manifest received = resolve_manifest(client, ref, options, result.index_digest);
    image::Manifest manifest = image::Manifest::parse(received.bytes);
    result.manifest_digest = received.digest;
    TransferProgress* progress = options.progress;

    // The config: small, fetched first, since its diff ids name the layers.
    if (!media_type::is_config(manifest.config.media_type))
      fail(ErrorKind::invalid_input, "manifest {} has config of type {}, not an image config",
           received.digest.str(), manifest.config.media_type);
    std::size_t config_slot = 0;
    if (progress)
      config_slot = progress->add("config " + manifest.config.digest.short_hex(),
                                  static_cast<std::uint64_t>(manifest.config.size));
    if (progress) progress->start(config_slot);
    fetch_blob(store, client, ref.repository, manifest.config, {});
    if (progress) progress->finish(config_slot);
    image::ImageConfig config = image::ImageConfig::parse(store.read_blob(manifest.config.digest));
    if (options.platform && !config.architecture.empty()) {
      image::Platform want = options.platform->normalized();
      image::Platform got = image::Platform::parse(config.os.empty() ? config.architecture
                                                                     : config.os + "/" + config.architecture);
      if (!image::platform_rank(want, got))
        util::warn("image platform ({}) does not match the expected platform ({})", got.str(), want.str());
    }
    if (config.diff_ids.size() != manifest.layers.size())
      fail(ErrorKind::corrupt, "config {} lists {} layers, the manifest {}", manifest.config.digest.str(),
           config.diff_ids.size(), manifest.layers.size());
    std::vector<util::Digest> chains = store::chain_ids(config.diff_ids);

    std::vector<LayerSlot> slots(manifest.layers.size());
    Arrivals arrivals;
    std::string root = store.root().string();
    WorkerPool pool(options.transfers);  // after the state its jobs use: destroyed first
    for (std::size_t i = 0; i < slots.size(); ++i) {
      LayerSlot& slot = slots[i];
      slot.descriptor = manifest.layers[i];
      slot.chain = chains[i];
      if (!media_type::is_layer(slot.descriptor.media_type))
        fail(ErrorKind::invalid_input, "layer {} has unsupported media type {}", slot.descriptor.digest.str(),
             slot.descriptor.media_type);
      std::string label = "blob " + slot.descriptor.digest.short_hex();
      if (progress) slot.progress_slot = progress->add(label, static_cast<std::uint64_t>(slot.descriptor.size));
      if (store.has_layer(slot.chain) || store.has_blob(slot.descriptor.digest)) {
        if (progress) progress->finish(slot.progress_slot, "skipped: already exists");
        arrivals.mark(slot, nullptr);
        continue;
      }
      ++result.layers_downloaded;
      pool.submit([&, root, repository = ref.repository] {
        std::exception_ptr error;
        try {
          store::Store own = store::Store::open(root);
          if (progress) progress->start(slot.progress_slot);
          ProgressFn on_bytes;
          if (progress)
            on_bytes = [&](std::uint64_t done, std::uint64_t total) { progress->update(slot.progress_slot, done, total); };
          fetch_blob(own, client, repository, slot.descriptor, on_bytes);
          if (progress) progress->finish(slot.progress_slot);
        } catch (...) {
          error = std::current_exception();
        }
        arrivals.mark(slot, error);
      });
    }

    bool single_id = options.single_id ? *options.single_id : userns::current_map().single_id();
    std::vector<util::Digest> layers;
    std::optional<util::Digest> parent;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      arrivals.wait(slots[i]);
      extract_layer(store, slots[i], parent, config.diff_ids[i], single_id);
      parent = slots[i].chain;
      layers.push_back(slots[i].chain);
    }
    pool.wait();

    if (progress) progress->message("Writing manifest to image destination");
    store.put_blob(received.bytes, received.digest);
    store::ImageRecord record;
    record.id = manifest.config.digest;
    record.config_digest = manifest.config.digest;
    record.manifest_digest = received.digest;
    record.manifest_media_type = received.media_type;
    record.layers = layers;
    if (!layers.empty()) record.top_layer = layers.back();
    if (!ref.tag.empty() && !ref.digest) record.names.push_back(ref.tagged());
    record.digests.push_back(ref.name() + "@" + received.digest.str());
    if (result.index_digest) record.digests.push_back(ref.name() + "@" + result.index_digest->str());
    record.created = config.created_time().value_or(store::Clock::now());
    result.record = store.add_image(std::move(record));
    return result;
  } catch (...) {
    util::rethrow_with("pull {}", ref.str());
  }
}

}  // namespace kiln::registry
