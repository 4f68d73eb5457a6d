// `kiln load`: see load.hpp. Three steps, each finished before the next starts:
// read (the archive is spooled into a staging directory in the store's tmp/ by
// ArchiveReader), plan (manifest.json or index.json, the configs and every member
// they name are checked: JSON, digests, layer counts), import (each layer through
// import_layer, which checks its diff id against the config), and only then
// record (write_image per image). Layers of a docker archive are uncompressed
// tars; they are stored as they are (blob digest = diff id, checked while the
// blob is stored) and the image's manifest lists them as uncompressed OCI layers:
// loading stays a copy with no compression pass, the media types tell the truth,
// and a later push sends exactly those blobs under those types.
#include "archive/load.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>

#include "archive/archive_reader.hpp"
#include "archive/docker_archive.hpp"
#include "archive/image_writer.hpp"
#include "archive/import.hpp"
#include "archive/oci_layout.hpp"
#include "image/config.hpp"
#include "image/manifest.hpp"
#include "image/media_types.hpp"
#include "image/platform.hpp"
#include "image/reference.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::archive {
namespace {

namespace mt = image::media_type;

// A layer as the archive describes it.
struct PendingLayer {
  std::string member;
  util::Digest diff_id;                  // from the config
  std::optional<util::Digest> blob;      // from an OCI manifest
};

struct PendingImage {
  std::string config_bytes;
  util::Digest id;
  std::vector<PendingLayer> layers;
  std::vector<std::string> names;
};

// The innermost message of a nested chain: what went wrong, without the wrappers'
// context (which would name our spool files rather than archive members).
std::string innermost(const std::exception& e) {
  try {
    std::rethrow_if_nested(e);
  } catch (const std::exception& inner) {
    return innermost(inner);
  } catch (...) {
  }
  if (auto* error = dynamic_cast<const Error*>(&e)) return error->describe();
  return e.what();
}

// Runs fn; an exception becomes one Error "member "NAME": why" of the same kind.
template <typename Fn>
auto with_member(std::string_view member, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    throw Error(fmt::format("member \"{}\": {}", member, innermost(e)), util::kind_of(e));
  }
}

void add_name(PendingImage& image, const std::string& name) {
  if (std::find(image.names.begin(), image.names.end(), name) == image.names.end()) image.names.push_back(name);
}

// Merges images that share a config (one image saved under several names).
void add_image(std::vector<PendingImage>& images, PendingImage image) {
  for (auto& existing : images) {
    if (existing.id == image.id) {
      for (const auto& name : image.names) add_name(existing, name);
      return;
    }
  }
  images.push_back(std::move(image));
}

image::ImageConfig parse_config(const std::string& member, const std::string& bytes) {
  return with_member(member, [&] { return image::ImageConfig::parse(bytes); });
}

std::vector<PendingImage> plan_docker_archive(const ArchiveReader& reader) {
  auto entries = parse_docker_manifest(with_member("manifest.json", [&] { return reader.read("manifest.json"); }));
  std::vector<PendingImage> images;
  for (const auto& entry : entries) {
    PendingImage image;
    image.config_bytes = with_member(entry.config, [&] { return reader.read(entry.config); });
    image.id = util::sha256_of(image.config_bytes);
    auto config = parse_config(entry.config, image.config_bytes);
    if (config.diff_ids.size() != entry.layers.size())
      fail(ErrorKind::corrupt, "member \"{}\": the config lists {} layers, manifest.json {}", entry.config,
           config.diff_ids.size(), entry.layers.size());
    for (std::size_t i = 0; i < entry.layers.size(); ++i) {
      const auto& member = entry.layers[i];
      if (!with_member(member, [&] { return reader.has(member); }))
        fail(ErrorKind::not_found, "missing member \"{}\"", member);
      image.layers.push_back({member, config.diff_ids[i], std::nullopt});
    }
    for (const auto& tag : entry.repo_tags)
      add_name(image, with_member("manifest.json", [&] { return image::Reference::parse(tag).str(); }));
    add_image(images, std::move(image));
  }
  return images;
}

// Reads a blob of an OCI layout and checks its digest.
std::string read_blob(const ArchiveReader& reader, const util::Digest& digest) {
  std::string member = oci_blob_member(digest);
  std::string bytes = with_member(member, [&] { return reader.read(member); });
  if (auto got = util::sha256_of(bytes); got != digest)
    fail(ErrorKind::corrupt, "member \"{}\": content has digest {}", member, got.str());
  return bytes;
}

// The single-image manifest a descriptor of index.json leads to (through a nested
// index, choosing this host's platform as pull does).
image::Manifest resolve_manifest(const ArchiveReader& reader, const image::Descriptor& descriptor, int depth = 0) {
  std::string bytes = read_blob(reader, descriptor.digest);
  std::string member = oci_blob_member(descriptor.digest);
  std::string type = with_member(member, [&] { return image::detect_manifest_type(bytes, descriptor.media_type); });
  if (mt::is_index(type)) {
    if (depth > 4) fail(ErrorKind::invalid_input, "member \"{}\": indexes nested too deeply", member);
    auto index = with_member(member, [&] { return image::Index::parse(bytes); });
    const auto& chosen = with_member(member, [&]() -> const image::Descriptor& {
      return index.choose(image::host_platform());
    });
    return resolve_manifest(reader, chosen, depth + 1);
  }
  return with_member(member, [&] { return image::Manifest::parse(bytes); });
}

std::vector<PendingImage> plan_oci_layout(const ArchiveReader& reader) {
  if (reader.has(kOciLayoutMember))
    with_member(kOciLayoutMember, [&] { check_oci_layout(reader.read(kOciLayoutMember)); });
  auto index = with_member(kOciIndexMember, [&] { return image::Index::parse(reader.read(kOciIndexMember)); });
  if (index.manifests.empty()) fail(ErrorKind::invalid_input, "member \"index.json\": lists no image");
  std::vector<PendingImage> images;
  for (const auto& descriptor : index.manifests) {
    auto manifest = resolve_manifest(reader, descriptor);
    PendingImage image;
    image.config_bytes = read_blob(reader, manifest.config.digest);
    image.id = manifest.config.digest;
    std::string config_member = oci_blob_member(manifest.config.digest);
    auto config = parse_config(config_member, image.config_bytes);
    if (config.diff_ids.size() != manifest.layers.size())
      fail(ErrorKind::corrupt, "member \"{}\": the config lists {} layers, the manifest {}", config_member,
           config.diff_ids.size(), manifest.layers.size());
    for (std::size_t i = 0; i < manifest.layers.size(); ++i) {
      const auto& layer = manifest.layers[i];
      std::string member = oci_blob_member(layer.digest);
      if (!with_member(member, [&] { return reader.has(member); }))
        fail(ErrorKind::not_found, "missing member \"{}\"", member);
      image.layers.push_back({member, config.diff_ids[i], layer.digest});
    }
    auto name = with_member(kOciIndexMember, [&] { return name_from_annotations(descriptor.annotations); });
    if (name) add_name(image, *name);
    add_image(images, std::move(image));
  }
  return images;
}

// True when a file starts like gzip, zstd, xz or bzip2 data.
bool looks_compressed(const std::filesystem::path& file) {
  auto fd = util::open_read(file);
  std::array<unsigned char, 6> magic{};
  ssize_t n = ::read(fd.get(), magic.data(), magic.size());
  if (n < 0) throw util::sys_error("read {}", file.string());
  if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return true;
  if (n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) return true;
  if (n >= 6 && magic[0] == 0xfd && magic[1] == '7' && magic[2] == 'z' && magic[3] == 'X') return true;
  return n >= 3 && magic[0] == 'B' && magic[1] == 'Z' && magic[2] == 'h';
}

std::vector<LoadedImage> load_from_reader(store::Store& store, ArchiveReader& reader, const LoadOptions& options) {
  std::vector<PendingImage> images;
  if (reader.has("manifest.json")) images = plan_docker_archive(reader);
  else if (reader.has(kOciIndexMember)) images = plan_oci_layout(reader);
  else fail(ErrorKind::invalid_input, "not a docker or OCI archive: no manifest.json or index.json");

  // Layers, all of them, before any record.
  std::vector<std::vector<store::LayerRecord>> stacks;
  std::map<std::pair<std::string, std::string>, store::LayerRecord> imported;  // (parent, member)
  for (const auto& image : images) {
    std::vector<store::LayerRecord> stack;
    std::optional<util::Digest> parent;
    for (const auto& layer : image.layers) {
      auto key = std::make_pair(parent ? parent->str() : std::string(), layer.member);
      auto it = imported.find(key);
      if (it == imported.end()) {
        auto record = with_member(layer.member, [&] {
          std::filesystem::path file = reader.file(layer.member);
          ImportLayerOptions import;
          import.diff_id = layer.diff_id;
          // An uncompressed layer's digest is its diff id: checked as the blob is stored,
          // before anything is extracted (also when the store has the layer already).
          import.blob_digest = layer.blob ? layer.blob : (looks_compressed(file) ? std::nullopt
                                                                                 : std::optional(layer.diff_id));
          import.single_id = options.single_id;
          auto got = import_layer(store, file, parent, import);
          if (got.diff_id != layer.diff_id)
            fail(ErrorKind::corrupt, "layer has diff id {}, the config says {}", got.diff_id.str(),
                 layer.diff_id.str());
          std::error_code ignored;
          std::filesystem::remove(file, ignored);  // when import_layer copied it
          return got;
        });
        it = imported.emplace(key, std::move(record)).first;
      }
      stack.push_back(it->second);
      parent = it->second.chain_id;
    }
    stacks.push_back(std::move(stack));
  }

  std::vector<LoadedImage> loaded;
  for (std::size_t i = 0; i < images.size(); ++i) {
    WriteImageOptions write;
    write.names = images[i].names;
    auto written = write_image(store, stacks[i], images[i].config_bytes, write);
    loaded.push_back({written.record.id, images[i].names});
  }
  return loaded;
}

}  // namespace

std::vector<LoadedImage> load_from_fd(store::Store& store, util::Fd input, std::string_view label,
                                      const LoadOptions& options) {
  try {
    auto spool = store.staging_dir("load");
    auto reader = ArchiveReader::read_tar(input, spool.path(), std::string(label));
    return load_from_reader(store, reader, options);
  } catch (...) {
    util::rethrow_with("load {}", label);
  }
}

std::vector<LoadedImage> load_from_path(store::Store& store, const std::filesystem::path& path,
                                        const LoadOptions& options) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    try {
      throw util::sys_error("stat {}", path.string());
    } catch (...) {
      util::rethrow_with("load {}", path.string());
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    auto fd = util::open_read(path);
    return load_from_fd(store, fd, path.string(), options);
  }
  try {
    auto spool = store.staging_dir("load");
    auto reader = ArchiveReader::open_dir(path, spool.path());
    return load_from_reader(store, reader, options);
  } catch (...) {
    util::rethrow_with("load {}", path.string());
  }
}

std::vector<std::string> loaded_lines(const std::vector<LoadedImage>& images) {
  std::vector<std::string> lines;
  for (const auto& image : images) {
    if (image.names.empty()) lines.push_back("Loaded image: " + image.id.str());
    for (const auto& name : image.names) lines.push_back("Loaded image: " + name);
  }
  return lines;
}

}  // namespace kiln::archive
