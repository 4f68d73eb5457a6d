// pull_image (see pull.hpp). Each missing layer is one job on a worker pool, with
// a Store of its own (a Store is for one thread): it downloads the blob into tmp/
// and, on a second thread, extracts the same bytes as they arrive (a socket pair
// between them) into a staging entry, hashing them once for the blob digest and
// the diff id. Layers are independent diffs, so all extract at once; nothing is
// published before its digest is verified. The calling thread then publishes
// the staged layers base first with one flush for all of them (publish_layers).
#include "registry/pull.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <exception>
#include <thread>

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

// One missing layer: filled by its job, published by the calling thread.
struct LayerSlot {
  image::Descriptor descriptor;
  util::Digest chain;
  util::Digest diff_id;
  std::optional<util::Digest> parent;
  std::size_t progress_slot = 0;
  util::FileLock lock;  // the layer's object lock, held until it is published
  std::optional<store::StagedLayer> staged;
};

// A small blob (the config), verified, in memory: stored with the manifest at the end,
// so its fsync is not a wait of its own before the layers start.
std::string fetch_small_blob(store::Store& store, RegistryClient& client, const std::string& repository,
                             const image::Descriptor& descriptor) {
  if (store.has_blob(descriptor.digest)) return store.read_blob(descriptor.digest);
  store::StagingDir staging = store.staging_dir("pull");
  std::filesystem::path file = staging.path() / "blob";
  {
    util::UniqueFd out = util::open_file(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::optional<std::uint64_t> size;
    if (descriptor.size > 0) size = static_cast<std::uint64_t>(descriptor.size);
    client.get_blob(repository, descriptor.digest, out, {}, size);  // verified
  }
  return util::read_file(file);
}

// Sends all of data to the extracting thread; false once it stopped reading.
bool feed_bytes(util::Fd socket, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::send(socket.get(), data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;
    if (n < 0) throw util::sys_error("send layer bytes");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

layer::ApplyResult apply_file(const std::filesystem::path& blob, const std::filesystem::path& diff,
                              const layer::ApplyOptions& apply) {
  util::UniqueFd in = util::open_read(blob);
  return layer::apply_layer(in, diff, apply);
}

// Downloads the blob into the store and extracts it into diff while it arrives. Verifies
// the blob digest before publishing the blob; the caller checks the diff id.
layer::ApplyResult download_and_apply(store::Store& store, RegistryClient& client, const std::string& repository,
                                      const LayerSlot& slot, const std::filesystem::path& diff,
                                      const layer::ApplyOptions& apply, const ProgressFn& progress) {
  const util::Digest& digest = slot.descriptor.digest;
  store::StagingDir staging = store.staging_dir("pull");
  std::filesystem::path file = staging.path() / "blob";
  util::UniqueFd out = util::open_file(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) throw util::sys_error("socketpair");
  util::UniqueFd drain(util::adopt, pair[1]);

  std::optional<layer::ApplyResult> streamed;
  std::exception_ptr extract_error;
  bool restarted = false;
  {
    // Declared before feed: on the way out feed closes first (the extractor sees EOF),
    // then the thread is joined.
    std::jthread extractor([&, in = std::move(drain)]() mutable {
      try {
        streamed = layer::apply_layer(in, diff, apply);
      } catch (...) {
        extract_error = std::current_exception();
      }
      in.reset();  // a sender still writing gets EPIPE instead of blocking
    });
    util::UniqueFd feed(util::adopt, pair[0]);
    BlobStream stream;
    stream.on_bytes = [&](const char* data, std::size_t size) {
      if (feed && !feed_bytes(feed, data, size)) feed.reset();
    };
    stream.on_restart = [&] {
      restarted = true;
      feed.reset();
    };
    stream.progress = progress;
    std::optional<std::uint64_t> size;
    if (slot.descriptor.size > 0) size = static_cast<std::uint64_t>(slot.descriptor.size);
    client.get_blob_stream(repository, digest, out, stream, size);
    bool fed_everything = static_cast<bool>(feed);
    feed.reset();
    extractor.join();
    if (!fed_everything) streamed.reset();
  }

  if (!streamed || streamed->blob_digest != digest) {
    // The stream broke off (a restart, a malformed or tampered layer): the file decides.
    util::Digest actual = util::sha256_of_file(file);
    if (actual != digest)
      fail(ErrorKind::corrupt, "blob {}: digest mismatch: received content has {}", digest.str(), actual.str());
    if (extract_error && !restarted) std::rethrow_exception(extract_error);
    util::remove_tree(diff);
    util::make_dirs(diff, 0755);
    streamed = apply_file(file, diff, apply);
  }
  out.reset();
  store.put_written_blob(file, digest);
  return *streamed;
}

// Stages one missing layer: its blob fetched (or found) and extracted, the diff id checked.
store::StagedLayer stage_layer(store::Store& store, RegistryClient& client, const std::string& repository,
                               const LayerSlot& slot, const layer::ApplyOptions& apply, const ProgressFn& progress) {
  store::StagingDir entry = store.stage_layer();
  std::filesystem::path diff = entry.path() / "diff";
  const util::Digest& digest = slot.descriptor.digest;
  layer::ApplyResult applied;
  try {
    util::FileLock blob_lock = store.object_lock(blob_lock_key(digest));
    if (store.has_blob(digest)) {
      blob_lock.unlock();
      applied = apply_file(store.blob_path(digest), diff, apply);
    } else {
      applied = download_and_apply(store, client, repository, slot, diff, apply, progress);
    }
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::invalid_input) util::rethrow_with("layer {}", slot.chain.str());
    throw;
  }
  if (applied.diff_id != slot.diff_id)
    fail(ErrorKind::corrupt, "layer {} has diff id {}, the config says {}", digest.str(), applied.diff_id.str(),
         slot.diff_id.str());
  store::LayerRecord record;
  record.chain_id = slot.chain;
  record.diff_id = slot.diff_id;
  record.parent = slot.parent;
  record.blob = digest;
  record.compressed_size = applied.compressed_size;
  record.size = applied.uncompressed_size;
  record.created = store::Clock::now();
  return store::StagedLayer{std::move(record), std::move(entry)};
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

    bool single_id = options.single_id ? *options.single_id : userns::current_map().single_id();
    layer::ApplyOptions apply;
    apply.chown = !single_id;
    apply.single_id = single_id;
    apply.whiteout_mode = layer::WhiteoutMode::overlay;

    // The missing layers' locks, base first: every pull takes them in this order and
    // holds them until its layers are published, so two pulls never wait on each other
    // in a circle, and a layer another pull is extracting is waited for, not redone.
    std::vector<LayerSlot> slots(manifest.layers.size());
    for (std::size_t i = 0; i < slots.size(); ++i) {
      LayerSlot& slot = slots[i];
      slot.descriptor = manifest.layers[i];
      slot.chain = chains[i];
      slot.diff_id = config.diff_ids[i];
      if (i > 0) slot.parent = chains[i - 1];
      if (!media_type::is_layer(slot.descriptor.media_type))
        fail(ErrorKind::invalid_input, "layer {} has unsupported media type {}", slot.descriptor.digest.str(),
             slot.descriptor.media_type);
      std::string label = "blob " + slot.descriptor.digest.short_hex();
      if (progress) slot.progress_slot = progress->add(label, static_cast<std::uint64_t>(slot.descriptor.size));
      if (store.has_layer(slot.chain)) continue;
      slot.lock = store.layer_lock(slot.chain);
      if (store.has_layer(slot.chain)) slot.lock.unlock();
    }

    std::string root = store.root().string();
    {
      WorkerPool pool(options.transfers);  // after the state its jobs use: destroyed first
      for (auto& slot : slots) {
        if (!slot.lock.held() || store.has_blob(slot.descriptor.digest)) {
          if (progress) progress->finish(slot.progress_slot, "skipped: already exists");
          if (!slot.lock.held()) continue;
        } else {
          ++result.layers_downloaded;
        }
        pool.submit([&, root, repository = ref.repository] {
          store::Store own = store::Store::open(root);
          ProgressFn on_bytes;
          bool downloading = !own.has_blob(slot.descriptor.digest);
          if (progress && downloading) {
            progress->start(slot.progress_slot);
            on_bytes = [&](std::uint64_t done, std::uint64_t total) { progress->update(slot.progress_slot, done, total); };
          }
          slot.staged.emplace(stage_layer(own, client, repository, slot, apply, on_bytes));
          if (progress && downloading) progress->finish(slot.progress_slot);
        });
      }
      pool.wait();
    }

    std::vector<store::StagedLayer> staged;
    for (auto& slot : slots)
      if (slot.staged) staged.push_back(std::move(*slot.staged));
    store.publish_layers(staged);
    std::vector<util::Digest> layers = chains;
    slots.clear();  // releases the layer locks: the layers are in the store

    if (progress) progress->message("Writing manifest to image destination");
    store.put_blob(config_bytes, manifest.config.digest);
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
