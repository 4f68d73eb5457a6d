// push_image (see push.hpp): plan the blobs (recompressing where asked), then
// HEAD, mount or upload each on a worker pool, then PUT the manifest last so
// the registry never serves a manifest whose blobs are still missing.
#include "registry/push.hpp"

#include <atomic>

#include "archive/image_writer.hpp"
#include "archive/import.hpp"
#include "image/manifest.hpp"
#include "registry/recompress.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::registry {

namespace {

namespace media_type = image::media_type;

struct OutgoingBlob {
  util::Digest digest;
  std::uint64_t size = 0;
  std::filesystem::path path;
  std::string label;
  std::size_t progress_slot = 0;
};

image::Manifest stored_manifest(const store::Store& store, const store::ImageRecord& image) {
  if (image.manifest_digest && store.has_blob(*image.manifest_digest))
    return image::Manifest::parse(store.read_blob(*image.manifest_digest));
  // An image recorded without a manifest: describe its layers' stored blobs.
  return archive::build_manifest(store, archive::image_layers(store, image), store.read_blob(image.config_digest), false);
}

}  // namespace

ManifestFormat parse_manifest_format(std::string_view text) {
  if (text == "oci") return ManifestFormat::oci;
  if (text == "v2s2" || text == "docker") return ManifestFormat::docker;
  if (text == "v2s1") fail(ErrorKind::invalid_input, "manifest format v2s1 (schema 1) is not supported");
  fail(ErrorKind::invalid_input, "unknown manifest format \"{}\" (want oci or v2s2)", text);
}

std::string mount_source(const store::ImageRecord& image, const image::Reference& dest) {
  for (const auto& repo_digest : image.digests) {
    auto at = repo_digest.find('@');
    auto ref = image::Reference::try_parse(repo_digest.substr(0, at));
    if (ref && ref->registry == dest.registry && ref->repository != dest.repository) return ref->repository;
  }
  return "";
}

PushedImage push_image(store::Store& store, RegistryClient& client, const store::ImageRecord& image,
                       const image::Reference& dest, const PushOptions& options) {
  try {
    image::Manifest manifest = stored_manifest(store, image);
    bool docker = options.format ? *options.format == ManifestFormat::docker : manifest.is_docker();
    bool converting = docker != manifest.is_docker();
    TransferProgress* progress = options.progress;

    std::vector<OutgoingBlob> blobs;
    blobs.push_back({manifest.config.digest, store.blob_size(manifest.config.digest),
                     store.blob_path(manifest.config.digest), "config " + manifest.config.digest.short_hex()});
    store::StagingDir staging = store.staging_dir("push");
    std::vector<image::Descriptor> layers;
    for (const image::Descriptor& source : manifest.layers) {
      image::Descriptor out = source;
      if (media_type::is_nondistributable(source.media_type)) {
        layers.push_back(out);  // its urls point elsewhere: never uploaded
        continue;
      }
      auto from = media_type::layer_compression(source.media_type);
      // Uncompressed layers (a build's) go out as gzip unless asked otherwise, as podman does.
      auto to = options.compression.value_or(from == media_type::Compression::none ? media_type::Compression::gzip : from);
      if (docker && to == media_type::Compression::zstd)
        fail(ErrorKind::invalid_input, "zstd-compressed layers need the OCI format (--format oci)");
      if (!store.has_blob(source.digest))
        fail(ErrorKind::not_found, "layer blob {} is not in the store", source.digest.str());
      std::filesystem::path path = store.blob_path(source.digest);
      if (to != from) {
        path = staging.path() / source.digest.hex();
        Recompressed re = recompress_blob(store.blob_path(source.digest), from, path, to);
        out.digest = re.digest;
        out.size = static_cast<std::int64_t>(re.size);
        out.annotations.clear();
      }
      if (to != from || converting) out.media_type = std::string(media_type::layer_type(to, docker));
      blobs.push_back({out.digest, static_cast<std::uint64_t>(out.size), path, "blob " + out.digest.short_hex()});
      layers.push_back(out);
    }
    if (converting) {
      manifest.media_type = std::string(docker ? media_type::kDockerManifest : media_type::kOciManifest);
      manifest.config.media_type = std::string(docker ? media_type::kDockerConfig : media_type::kOciConfig);
      if (docker) {
        // v2s2 has no annotations, subject or artifact type.
        manifest.annotations.clear();
        manifest.subject.reset();
        manifest.artifact_type.clear();
        for (auto& layer : layers) layer.annotations.clear();
      }
    }
    manifest.layers = layers;
    std::string bytes = manifest.bytes();
    std::string manifest_type = manifest.media_type.empty() ? std::string(media_type::kOciManifest) : manifest.media_type;

    PushedImage result;
    std::string mount_from = mount_source(image, dest);
    std::atomic<std::size_t> uploaded{0}, mounted{0}, existing{0};
    if (progress)
      for (auto& blob : blobs) blob.progress_slot = progress->add(blob.label, blob.size);
    for_each_parallel(
        blobs,
        [&](OutgoingBlob& blob) {
          if (client.blob_exists(dest.repository, blob.digest)) {
            ++existing;
            if (progress) progress->finish(blob.progress_slot, "skipped: already exists");
            return;
          }
          if (progress) progress->start(blob.progress_slot);
          util::UniqueFd in = util::open_read(blob.path);
          ProgressFn on_bytes;
          if (progress)
            on_bytes = [&](std::uint64_t done, std::uint64_t total) { progress->update(blob.progress_slot, done, total); };
          UploadResult how = client.upload_blob(dest.repository, blob.digest, blob.size, in, on_bytes, mount_from);
          if (how == UploadResult::mounted) {
            ++mounted;
            if (progress) progress->finish(blob.progress_slot, "mounted from " + mount_from);
          } else {
            ++uploaded;
            if (progress) progress->finish(blob.progress_slot);
          }
        },
        options.transfers);
    result.blobs_uploaded = uploaded;
    result.blobs_mounted = mounted;
    result.blobs_existing = existing;

    if (progress) progress->message("Writing manifest to image destination");
    util::Digest digest = util::sha256_of(bytes);
    std::string target = dest.tag.empty() ? digest.str() : dest.tag;
    result.manifest_digest = client.put_manifest(dest.repository, target, bytes, manifest_type);
    result.manifest_media_type = manifest_type;
    return result;
  } catch (...) {
    util::rethrow_with("push {}", dest.str());
  }
}

}  // namespace kiln::registry
