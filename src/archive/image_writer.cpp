// write_image: config blob, manifest blob, image record, in that order, so the
// record is published only after everything it points at (the store checks it
// again under its lock).
#include "archive/image_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>

#include "image/config.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::archive {

namespace mt = image::media_type;

mt::Compression blob_compression(const store::Store& store, const util::Digest& blob) {
  auto fd = util::open_read(store.blob_path(blob));
  std::array<unsigned char, 4> magic{};
  ssize_t n = ::read(fd.get(), magic.data(), magic.size());
  if (n < 0) throw util::sys_error("read {}", store.blob_path(blob).string());
  if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return mt::Compression::gzip;
  if (n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
    return mt::Compression::zstd;
  return mt::Compression::none;
}

image::Manifest build_manifest(const store::Store& store, const std::vector<store::LayerRecord>& layers,
                               std::string_view config_bytes, bool docker_format) {
  image::Manifest manifest;
  manifest.schema_version = 2;
  manifest.media_type = std::string(docker_format ? mt::kDockerManifest : mt::kOciManifest);
  manifest.config.media_type = std::string(docker_format ? mt::kDockerConfig : mt::kOciConfig);
  manifest.config.digest = util::sha256_of(config_bytes);
  manifest.config.size = static_cast<std::int64_t>(config_bytes.size());
  for (const auto& layer : layers) {
    if (!layer.blob)
      fail(ErrorKind::not_found, "layer {} has no blob in the store", layer.chain_id.str());
    image::Descriptor descriptor;
    descriptor.media_type = std::string(mt::layer_type(blob_compression(store, *layer.blob), docker_format));
    descriptor.digest = *layer.blob;
    descriptor.size = static_cast<std::int64_t>(store.blob_size(*layer.blob));
    manifest.layers.push_back(std::move(descriptor));
  }
  return manifest;
}

WrittenImage write_image(store::Store& store, const std::vector<store::LayerRecord>& layers,
                         std::string_view config_bytes, const WriteImageOptions& options) {
  try {
    auto config = image::ImageConfig::parse(config_bytes);
    if (config.diff_ids.size() != layers.size())
      fail(ErrorKind::invalid_input, "the config lists {} layers, the image has {}", config.diff_ids.size(),
           layers.size());
    for (size_t i = 0; i < layers.size(); ++i)
      if (config.diff_ids[i] != layers[i].diff_id)
        fail(ErrorKind::invalid_input, "layer {}: the config says diff id {}, the layer has {}", i + 1,
             config.diff_ids[i].str(), layers[i].diff_id.str());

    WrittenImage out{{}, build_manifest(store, layers, config_bytes, options.docker_format)};
    // Blobs before the record that names them.
    util::Digest id = store.put_blob(config_bytes);
    std::string manifest_bytes = out.manifest.bytes();
    util::Digest manifest_digest = store.put_blob(manifest_bytes);

    store::ImageRecord record;
    record.id = id;
    record.config_digest = id;
    record.names = options.names;
    record.digests = options.repo_digests;
    record.manifest_digest = manifest_digest;
    record.manifest_media_type = out.manifest.media_type;
    for (const auto& layer : layers) record.layers.push_back(layer.chain_id);
    if (auto created = config.created_time()) record.created = *created;
    out.record = store.add_image(std::move(record));
    return out;
  } catch (...) {
    util::rethrow_with("write image");
  }
}

}  // namespace kiln::archive
