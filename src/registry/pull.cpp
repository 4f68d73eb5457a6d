// pull_image (see pull.hpp). Each missing layer blob is one job on a worker pool,
// with a Store of its own (a Store is for one thread): it downloads the blob into
// tmp/, hashing the bytes as they arrive, and publishes it only when the digest
// matches. Layers are not extracted here: the image record lists their blobs
// (layer_blobs), and whatever first needs the tree (run, create, build) extracts
// them, checking the diff ids then (archive::unpack_image). That is the work
// skopeo does for a copy to a directory, and all a pull that only pushes on needs.
#include "registry/pull.hpp"

#include <fcntl.h>

#include "image/config.hpp"
#include "image/manifest.hpp"
#include "image/media_types.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kiln::registry {

namespace {

namespace media_type = image::media_type;

// One layer of the manifest, and whether its blob must be fetched.
struct LayerSlot {
  image::Descriptor descriptor;
  std::size_t progress_slot = 0;
  bool needed = false;
};

// Downloads descriptor's blob into file (in a staging entry), verified as it arrives.
void download_blob(RegistryClient& client, const std::string& repository, const image::Descriptor& descriptor,
                   const std::filesystem::path& file, const ProgressFn& progress) {
  util::UniqueFd out = util::open_file(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::optional<std::uint64_t> size;
  if (descriptor.size > 0) size = static_cast<std::uint64_t>(descriptor.size);
  client.get_blob(repository, descriptor.digest, out, progress, size);
}

// A small blob (the config), verified, in memory: stored with the manifest at the end,
// so its fsync is not a wait of its own before the layers start.
std::string fetch_small_blob(store::Store& store, RegistryClient& client, const std::string& repository,
                             const image::Descriptor& descriptor) {
  if (store.has_blob(descriptor.digest)) return store.read_blob(descriptor.digest);
  store::StagingDir staging = store.staging_dir("pull");
  std::filesystem::path file = staging.path() / "blob";
  download_blob(client, repository, descriptor, file, {});
  return util::read_file(file);
}

// Downloads one layer blob into the store unless it is there (or another process is
// fetching it: its object lock is waited for). The digest is verified while the bytes
// arrive, so the store does not read the file again. False when it was there.
bool fetch_layer_blob(store::Store& store, RegistryClient& client, const std::string& repository,
                      const image::Descriptor& descriptor, const ProgressFn& progress) {
  util::FileLock blob_lock = store.object_lock(blob_lock_key(descriptor.digest));
  if (store.has_blob(descriptor.digest)) return false;
  store::StagingDir staging = store.staging_dir("pull");
  std::filesystem::path file = staging.path() / "blob";
  download_blob(client, repository, descriptor, file, progress);
  store.put_written_blob(file, descriptor.digest);
  return true;
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
    std::string config_bytes = fetch_small_blob(store, client, ref.repository, manifest.config);
    if (progress) progress->finish(config_slot);
    image::ImageConfig config = image::ImageConfig::parse(config_bytes);
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

    // Layers are stored as blobs only: run, create and build extract them on first use
    // (archive::unpack_image), checking each against its diff id then.
    std::vector<LayerSlot> slots(manifest.layers.size());
    for (std::size_t i = 0; i < slots.size(); ++i) {
      LayerSlot& slot = slots[i];
      slot.descriptor = manifest.layers[i];
      if (!media_type::is_layer(slot.descriptor.media_type))
        fail(ErrorKind::invalid_input, "layer {} has unsupported media type {}", slot.descriptor.digest.str(),
             slot.descriptor.media_type);
      std::string label = "blob " + slot.descriptor.digest.short_hex();
      if (progress) slot.progress_slot = progress->add(label, static_cast<std::uint64_t>(slot.descriptor.size));
      slot.needed = !store.has_layer(chains[i]) && !store.has_blob(slot.descriptor.digest);
    }

    std::string root = store.root().string();
    {
      WorkerPool pool(options.transfers);  // after the state its jobs use: destroyed first
      for (auto& slot : slots) {
        if (!slot.needed) {
          if (progress) progress->finish(slot.progress_slot, "skipped: already exists");
          continue;
        }
        ++result.layers_downloaded;
        pool.submit([&, root, repository = ref.repository] {
          store::Store own = store::Store::open(root);
          ProgressFn on_bytes;
          if (progress) {
            progress->start(slot.progress_slot);
            on_bytes = [&](std::uint64_t done, std::uint64_t total) { progress->update(slot.progress_slot, done, total); };
          }
          bool fetched = fetch_layer_blob(own, client, repository, slot.descriptor, on_bytes);
          if (progress) progress->finish(slot.progress_slot, fetched ? "done" : "skipped: already exists");
        });
      }
      pool.wait();
    }
    std::vector<util::Digest> layers = chains;

    if (progress) progress->message("Writing manifest to image destination");
    store.put_blob(config_bytes, manifest.config.digest);
    store.put_blob(received.bytes, received.digest);
    store::ImageRecord record;
    record.id = manifest.config.digest;
    record.config_digest = manifest.config.digest;
    record.manifest_digest = received.digest;
    record.manifest_media_type = received.media_type;
    record.layers = layers;
    for (const auto& descriptor : manifest.layers) record.layer_blobs.push_back(descriptor.digest);
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
