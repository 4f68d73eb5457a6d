// `kiln save`: see save.hpp. Saving runs in two phases. The plan is made under the
// store's read lock: records, configs and manifests are read and every layer blob
// is opened, so a concurrent `rmi` cannot pull a blob from under the save (an open
// file outlives its unlinking). The archive is then written without any lock, one
// layer at a time through a fixed buffer.
#include "archive/save.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "archive/archive_output.hpp"
#include "archive/docker_archive.hpp"
#include "archive/image_writer.hpp"
#include "archive/import.hpp"
#include "archive/lookup.hpp"
#include "archive/oci_layout.hpp"
#include "image/config.hpp"
#include "image/manifest.hpp"
#include "image/media_types.hpp"
#include "image/reference.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::archive {
namespace {

namespace mt = image::media_type;
constexpr std::size_t kBufferSize = 1 << 20;

struct PlannedLayer {
  store::LayerRecord record;
  std::shared_ptr<util::UniqueFd> blob;  // opened under the read lock
  std::uint64_t blob_size = 0;
};

struct PlannedImage {
  store::ImageRecord record;
  std::vector<std::string> names;  // in the order the user gave them
  std::string config_bytes;
  std::vector<PlannedLayer> layers;
  image::Manifest manifest;  // OCI form, pointing at the layers' blobs
};

// The manifest to write into an OCI layout: the stored one when it describes exactly
// the layers' blobs, else one built from the layers.
image::Manifest plan_manifest(const store::Store& store, const store::ImageRecord& record,
                              const std::vector<store::LayerRecord>& layers, std::string_view config_bytes) {
  if (record.manifest_digest && store.has_blob(*record.manifest_digest)) {
    try {
      auto manifest = to_oci_manifest(image::Manifest::parse(store.read_blob(*record.manifest_digest)));
      bool same = manifest.config.digest == record.config_digest && manifest.layers.size() == layers.size();
      for (std::size_t i = 0; same && i < layers.size(); ++i)
        same = layers[i].blob && manifest.layers[i].digest == *layers[i].blob;
      if (same) return manifest;
    } catch (const Error&) {
      // A manifest kiln cannot read is rebuilt below.
    }
  }
  return build_manifest(store, layers, config_bytes, false);
}

std::vector<PlannedImage> make_plan(const store::Store& store, const std::vector<SaveImage>& images) {
  auto lock = store.read_lock();
  std::vector<PlannedImage> plan;
  std::map<util::Digest, PlannedLayer> opened;  // by chain id: each blob opened once
  for (const auto& item : images) {
    auto existing = std::find_if(plan.begin(), plan.end(),
                                 [&](const PlannedImage& p) { return p.record.id == item.image.id; });
    if (existing != plan.end()) {
      if (item.name && std::find(existing->names.begin(), existing->names.end(), *item.name) == existing->names.end())
        existing->names.push_back(*item.name);
      continue;
    }
    // Re-read the record: the caller's copy may predate an rmi.
    PlannedImage planned{store.image(item.image.id.str()), {}, {}, {}, {}};
    if (item.name) planned.names.push_back(*item.name);
    planned.config_bytes = store.read_blob(planned.record.config_digest);
    std::vector<store::LayerRecord> records;
    std::vector<store::LayerRecord> stored = image_layers(store, planned.record);  // extracted or not
    for (std::size_t i = 0; i < stored.size(); ++i) {
      const util::Digest& chain = stored[i].chain_id;
      auto it = opened.find(chain);
      if (it == opened.end()) {
        PlannedLayer layer{stored[i], {}, 0};
        if (!layer.record.blob)
          fail(ErrorKind::not_found, "image {}: layer {} has no blob in the store", planned.record.id.short_hex(),
               chain.str());
        layer.blob = std::make_shared<util::UniqueFd>(util::open_read(store.blob_path(*layer.record.blob)));
        layer.blob_size = store.blob_size(*layer.record.blob);
        it = opened.emplace(chain, std::move(layer)).first;
      }
      planned.layers.push_back(it->second);
      records.push_back(it->second.record);
    }
    planned.manifest = plan_manifest(store, planned.record, records, planned.config_bytes);
    plan.push_back(std::move(planned));
  }
  return plan;
}

void rewind(const PlannedLayer& layer) {
  if (::lseek(layer.blob->get(), 0, SEEK_SET) != 0) throw util::sys_error("seek layer blob");
}

// Streams a blob as stored.
void copy_blob(ArchiveOutput& out, const std::string& name, const PlannedLayer& layer) {
  rewind(layer);
  out.begin(name, layer.blob_size);
  std::vector<char> buf(kBufferSize);
  std::uint64_t left = layer.blob_size;
  while (left > 0) {
    ssize_t n = ::read(layer.blob->get(), buf.data(), std::min<std::uint64_t>(left, buf.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw util::sys_error("read blob {}", layer.record.blob->str());
    if (n == 0) fail(ErrorKind::corrupt, "blob {} is shorter than recorded", layer.record.blob->str());
    out.write(buf.data(), static_cast<std::size_t>(n));
    left -= static_cast<std::uint64_t>(n);
  }
  out.end();
}

// Decompresses a layer blob (gzip, zstd, ...; plain passes through) chunk by chunk.
class Decompressor {
public:
  explicit Decompressor(util::Fd fd) : a_(archive_read_new()) {
    if (!a_) throw Error("libarchive: out of memory");
    archive_read_support_filter_gzip(a_);
    archive_read_support_filter_zstd(a_);
    archive_read_support_filter_bzip2(a_);
    archive_read_support_filter_xz(a_);
    archive_read_support_format_raw(a_);
    archive_read_support_format_empty(a_);
    struct archive_entry* entry = nullptr;
    if (archive_read_open_fd(a_, fd.get(), kBufferSize) != ARCHIVE_OK) check(ARCHIVE_FATAL);
    int r = archive_read_next_header(a_, &entry);
    if (r == ARCHIVE_EOF) eof_ = true;
    else check(r);
  }
  ~Decompressor() { archive_read_free(a_); }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  /// Fills buf; 0 at the end.
  std::size_t read(std::vector<char>& buf) {
    if (eof_) return 0;
    la_ssize_t n = archive_read_data(a_, buf.data(), buf.size());
    if (n < 0) check(ARCHIVE_FATAL);
    return static_cast<std::size_t>(n);
  }

private:
  void check(int r) {
    if (r < ARCHIVE_WARN) fail(ErrorKind::corrupt, "decompress layer blob: {}", archive_error_string(a_));
  }
  struct archive* a_;
  bool eof_ = false;
};

// Writes a layer as its uncompressed tar, whose sha256 must be the diff id.
void write_uncompressed(ArchiveOutput& out, const std::string& name, const PlannedLayer& layer) {
  const auto& record = layer.record;
  if (*record.blob == record.diff_id) return copy_blob(out, name, layer);
  // A tar header states the size first: one pass counts, the second writes.
  std::vector<char> buf(kBufferSize);
  std::uint64_t size = 0;
  rewind(layer);
  {
    Decompressor counter(*layer.blob);
    while (std::size_t n = counter.read(buf)) size += n;
  }
  rewind(layer);
  Decompressor input(*layer.blob);
  util::Sha256 hash;
  out.begin(name, size);
  while (std::size_t n = input.read(buf)) {
    hash.update(buf.data(), n);
    out.write(buf.data(), n);
  }
  out.end();
  if (auto got = hash.finish(); got != record.diff_id)
    fail(ErrorKind::corrupt, "layer {}: decompressed blob has digest {}, expected diff id {}", record.chain_id.str(),
         got.str(), record.diff_id.str());
}

void write_docker_archive(const std::vector<PlannedImage>& plan, ArchiveOutput& out) {
  std::set<std::string> written;
  std::vector<DockerArchiveEntry> entries;
  std::map<std::string, std::map<std::string, std::string>> repositories;
  for (const auto& image : plan) {
    DockerArchiveEntry entry;
    entry.config = docker_config_member(image.record.config_digest);
    if (written.insert(entry.config).second) out.add(entry.config, image.config_bytes);
    for (const auto& layer : image.layers) {
      std::string member = docker_layer_member(layer.record.diff_id);
      if (written.insert(member).second) write_uncompressed(out, member, layer);
      entry.layers.push_back(member);
    }
    for (const auto& name : image.names) {
      auto ref = image::Reference::parse(name);
      entry.repo_tags.push_back(ref.str());
      if (!image.layers.empty() && !ref.tag.empty())
        repositories[ref.name()][ref.tag] = std::string(image.layers.back().record.chain_id.hex());
    }
    entries.push_back(std::move(entry));
  }
  out.add("manifest.json", serialize_docker_manifest(entries));
  out.add("repositories", serialize_repositories(repositories));
}

void write_oci_layout(const std::vector<PlannedImage>& plan, ArchiveOutput& out) {
  out.add(kOciLayoutMember, oci_layout_file());
  std::set<std::string> written;
  image::Index index;
  index.schema_version = 2;
  index.media_type = std::string(mt::kOciIndex);
  for (const auto& image : plan) {
    std::string config_member = oci_blob_member(image.record.config_digest);
    if (written.insert(config_member).second) out.add(config_member, image.config_bytes);
    for (const auto& layer : image.layers) {
      std::string member = oci_blob_member(*layer.record.blob);
      if (written.insert(member).second) copy_blob(out, member, layer);
    }
    std::string manifest_bytes = image.manifest.bytes();
    image::Descriptor descriptor;
    descriptor.media_type = image.manifest.media_type;
    descriptor.digest = util::sha256_of(manifest_bytes);
    descriptor.size = static_cast<std::int64_t>(manifest_bytes.size());
    std::string manifest_member = oci_blob_member(descriptor.digest);
    if (written.insert(manifest_member).second) out.add(manifest_member, manifest_bytes);
    if (image.names.empty()) index.manifests.push_back(descriptor);
    for (const auto& name : image.names) {
      descriptor.annotations = annotations_for_name(name);
      index.manifests.push_back(descriptor);
    }
  }
  out.add(kOciIndexMember, index.serialize());
}

void write_plan(const std::vector<PlannedImage>& plan, SaveFormat format, ArchiveOutput& out) {
  if (format == SaveFormat::docker_archive) write_docker_archive(plan, out);
  else write_oci_layout(plan, out);
  out.finish();
}

// Unlinks a temporary file unless disarmed.
struct RemoveOnFailure {
  std::filesystem::path path;
  bool armed = true;
  ~RemoveOnFailure() {
    if (armed) ::unlink(path.c_str());
  }
};

}  // namespace

SaveFormat parse_save_format(std::string_view text) {
  if (text == "docker-archive") return SaveFormat::docker_archive;
  if (text == "oci-archive") return SaveFormat::oci_archive;
  if (text == "oci-dir") return SaveFormat::oci_dir;
  fail(ErrorKind::invalid_input, "unsupported format \"{}\": use docker-archive, oci-archive or oci-dir", text);
}

SaveImage resolve_save_image(const store::Store& store, std::string_view text,
                             const std::vector<std::string>& search_registries) {
  auto index = store.image_index();
  auto found = lookup_image(*index, text, search_registries);
  if (!found.image) fail(ErrorKind::not_found, "no such image: {}", text);
  SaveImage out{*found.image, std::nullopt};
  // Named by id: no name in the archive, as podman and docker do.
  if (!found.matched_name.empty()) out.name = found.matched_name;
  return out;
}

void save_to_fd(const store::Store& store, const std::vector<SaveImage>& images, SaveFormat format, util::Fd out) {
  if (format == SaveFormat::oci_dir) fail(ErrorKind::invalid_input, "the oci-dir format needs an output directory (-o)");
  auto plan = make_plan(store, images);
  auto output = tar_output(out);
  write_plan(plan, format, *output);
}

void save_to_path(const store::Store& store, const std::vector<SaveImage>& images, SaveFormat format,
                  const std::filesystem::path& target) {
  auto plan = make_plan(store, images);
  std::filesystem::path parent = target.parent_path().empty() ? "." : target.parent_path();
  std::string base = target.filename().string();
  if (base.empty() || base == "." || base == "..") fail(ErrorKind::invalid_input, "invalid output path \"{}\"", target.string());

  if (format == SaveFormat::oci_dir) {
    std::error_code ec;
    if (std::filesystem::exists(target, ec) &&
        (!std::filesystem::is_directory(target, ec) || !std::filesystem::is_empty(target, ec)))
      fail(ErrorKind::conflict, "{} already exists and is not an empty directory", target.string());
    util::TempDir staged(parent, "." + base + ".kiln-");
    if (::chmod(staged.path().c_str(), 0755) != 0) throw util::sys_error("chmod {}", staged.path().string());
    auto output = dir_output(staged.path());
    write_plan(plan, format, *output);
    util::rename_durable(staged.path(), target);
    staged.keep();
    return;
  }

  std::string pattern = (parent / ("." + base + ".kiln-XXXXXX")).string();
  util::UniqueFd fd{util::adopt, ::mkostemp(pattern.data(), O_CLOEXEC)};
  if (!fd) throw util::sys_error("create a temporary file beside {}", target.string());
  RemoveOnFailure guard{pattern};
  if (::fchmod(fd.get(), 0644) != 0) throw util::sys_error("chmod {}", pattern);
  auto output = tar_output(fd);
  write_plan(plan, format, *output);
  if (::fsync(fd.get()) != 0) throw util::sys_error("fsync {}", pattern);
  util::rename_durable(pattern, target);
  guard.armed = false;
}

}  // namespace kiln::archive
