// import_layer, import_rootfs, and unpack_image (a pulled image's layers, extracted
// on first use). A layer blob of unknown diff id is read twice
// (once to hash the tar stream, once to extract): the chain id must be known
// before extraction so concurrent importers of the same layer queue on its
// object lock and extract it once. A rootfs tarball is extracted once into
// staging, re-tarred from there, and the staged tree published as the layer.
#include "archive/import.hpp"

#include <archive.h>
#include <fcntl.h>
#include <unistd.h>

#include <exception>
#include <thread>

#include "image/change.hpp"
#include "image/config.hpp"
#include "image/platform.hpp"
#include "layer/apply.hpp"
#include "layer/create.hpp"
#include "layer/tar_input.hpp"
#include "userns/userns.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::archive {

namespace {

bool decide_single_id(const std::optional<bool>& single_id) {
  if (single_id) return *single_id;
  return userns::current_map().single_id();
}

layer::ApplyOptions apply_options(bool single_id) {
  layer::ApplyOptions options;
  options.chown = !single_id;
  options.single_id = single_id;
  options.whiteout_mode = layer::WhiteoutMode::overlay;
  return options;
}

// want, with the sizes of what was extracted and the time, once the extracted tar's diff
// id is the one claimed (the error quotes `claimed`: "expected", "the config says").
store::LayerRecord checked_record(store::LayerRecord want, const layer::ApplyResult& applied,
                                  std::string_view claimed) {
  if (applied.diff_id != want.diff_id)
    fail(ErrorKind::corrupt, "layer blob {} has diff id {}, {} {}", want.blob->str(), applied.diff_id.str(), claimed,
         want.diff_id.str());
  want.compressed_size = applied.compressed_size;
  want.size = applied.uncompressed_size;
  want.created = store::Clock::now();
  return want;
}

// An image's layer chain as its config describes it, checked against the record.
std::vector<util::Digest> config_diff_ids(const store::Store& store, const store::ImageRecord& image) {
  auto config = image::ImageConfig::parse(store.read_blob(image.config_digest));
  if (config.diff_ids.size() != image.layers.size() || store::chain_ids(config.diff_ids) != image.layers)
    fail(ErrorKind::corrupt, "image {}: its config's diff ids do not give its layers", image.id.short_hex());
  return config.diff_ids;
}

// The diff id of a layer blob: one pass through its decompressed tar stream.
util::Digest hash_diff_id(const std::filesystem::path& blob) {
  auto fd = util::open_read(blob);
  layer::TarInput input(fd);
  struct archive* tar = input.tar();
  struct archive_entry* entry = nullptr;
  for (;;) {
    int rc = archive_read_next_header(tar, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) fail(ErrorKind::invalid_input, "read layer: {}", input.error_text());
    if (archive_read_data_skip(tar) < ARCHIVE_WARN) fail(ErrorKind::invalid_input, "read layer: {}", input.error_text());
  }
  input.finish();
  return input.diff_id();
}

}  // namespace

std::string import_created_by(const util::Digest& diff_id) {
  return fmt::format("/bin/sh -c #(nop) ADD file:{} in / ", diff_id.hex());
}

store::LayerRecord import_layer(store::Store& store, const std::filesystem::path& blob_file,
                                const std::optional<util::Digest>& parent, const ImportLayerOptions& options) {
  try {
    util::Digest diff_id = options.diff_id ? *options.diff_id : hash_diff_id(blob_file);
    util::Digest blob = store.put_blob_file(blob_file, options.blob_digest);
    util::Digest chain = store::chain_id(parent, diff_id);
    bool single_id = decide_single_id(options.single_id);
    store::LayerRecord want;
    want.chain_id = chain;
    want.diff_id = diff_id;
    want.parent = parent;
    want.blob = blob;
    return store.ensure_layer(chain, [&](const std::filesystem::path& diff_dir) {
      auto fd = util::open_read(store.blob_path(blob));
      return checked_record(want, layer::apply_layer(fd, diff_dir, apply_options(single_id)), "expected");
    });
  } catch (...) {
    util::rethrow_with("import layer {}", blob_file.string());
  }
}

WrittenImage import_rootfs(store::Store& store, util::Fd input, std::string_view source,
                           const ImportOptions& options) {
  // Parse the changes first: a typo must not cost an extraction.
  image::RunConfig run_config;
  try {
    image::apply_changes(run_config, options.changes);
  } catch (...) {
    util::rethrow_with("import {}", source);
  }
  bool single_id = decide_single_id(options.single_id);

  store::StagingDir entry = store.staging_dir("import");
  std::filesystem::path tree = entry.path() / "diff";
  std::filesystem::path blob_file = entry.path() / "layer.tar.gz";
  layer::CreateResult created;
  try {
    util::make_dirs(tree, 0755);
    layer::apply_layer(input, tree, apply_options(single_id));
    auto out = util::open_file(blob_file, O_WRONLY | O_CREAT | O_EXCL, 0644);
    layer::CreateOptions create_options;
    create_options.compression = layer::Compression::gzip;
    create_options.from_overlay_upper = true;  // whiteouts in the tree go back to .wh. entries
    created = layer::create_layer(tree, out, create_options);
    if (::fsync(out.get()) < 0) throw util::sys_error("fsync {}", blob_file.string());
  } catch (...) {
    util::rethrow_with("import {}", source);
  }

  try {
    util::Digest blob = store.put_blob_file(blob_file, created.blob_digest);
    util::Digest chain = store::chain_id(std::nullopt, created.diff_id);
    store::LayerRecord layer_record;
    if (auto existing = store.try_layer(chain)) {
      layer_record = std::move(*existing);  // the same content was imported before
    } else {
      layer_record.chain_id = chain;
      layer_record.diff_id = created.diff_id;
      layer_record.blob = blob;
      layer_record.compressed_size = created.compressed_size;
      layer_record.size = created.uncompressed_size;
      layer_record = store.publish_layer(std::move(layer_record), tree);
    }

    auto when = options.created.value_or(std::chrono::system_clock::now());
    image::ImageConfig config;
    auto platform = image::host_platform();
    config.architecture = platform.architecture;
    config.os = platform.os;
    config.variant = platform.variant;
    config.set_created(when);
    config.config = std::move(run_config);
    config.diff_ids = {created.diff_id};
    image::HistoryEntry history;
    history.created = config.created;
    history.created_by = import_created_by(created.diff_id);
    history.comment = options.message;
    config.history = {std::move(history)};

    WriteImageOptions write_options;
    write_options.names = options.names;
    write_options.docker_format = options.docker_format;
    return write_image(store, {layer_record}, config.bytes(), write_options);
  } catch (...) {
    util::rethrow_with("import {}", source);
  }
}

std::vector<store::LayerRecord> image_layers(const store::Store& store, const store::ImageRecord& image) {
  std::vector<store::LayerRecord> out;
  std::optional<std::vector<util::Digest>> diff_ids;
  for (std::size_t i = 0; i < image.layers.size(); ++i) {
    const util::Digest& chain = image.layers[i];
    if (auto record = store.try_layer(chain)) {
      out.push_back(std::move(*record));
      continue;
    }
    if (i >= image.layer_blobs.size()) fail(ErrorKind::not_found, "layer {} is not in the store", chain.str());
    if (!diff_ids) diff_ids = config_diff_ids(store, image);
    store::LayerRecord record;
    record.chain_id = chain;
    record.diff_id = (*diff_ids)[i];
    if (i > 0) record.parent = image.layers[i - 1];
    record.blob = image.layer_blobs[i];
    record.compressed_size = store.blob_size(*record.blob);
    record.size = store.layer_size_hint(*record.blob);
    out.push_back(std::move(record));
  }
  return out;
}

bool image_unpacked(const store::Store& store, const store::ImageRecord& image) {
  for (const auto& chain : image.layers)
    if (!store.has_layer(chain)) return false;
  return true;
}

void unpack_image(store::Store& store, const store::ImageRecord& image, std::optional<bool> single_id) {
  if (image_unpacked(store, image)) return;
  try {
    std::vector<store::LayerRecord> records = image_layers(store, image);
    bool single = decide_single_id(single_id);
    // The missing layers' locks, base first (the order every unpack and pull takes them
    // in); one that got extracted while we waited is reused.
    struct Job {
      const store::LayerRecord* record;
      util::FileLock lock;
      std::optional<store::StagedLayer> staged;
      std::exception_ptr error;
    };
    std::vector<Job> jobs;
    for (const auto& record : records) {
      if (store.has_layer(record.chain_id)) continue;
      util::FileLock lock = store.layer_lock(record.chain_id);
      if (store.has_layer(record.chain_id)) continue;
      jobs.push_back(Job{&record, std::move(lock), std::nullopt, nullptr});
    }
    auto extract = [&](Job& job, store::Store& own) {
      try {
        const store::LayerRecord& want = *job.record;
        store::StagingDir entry = own.stage_layer();
        auto fd = util::open_read(own.blob_path(*want.blob));
        layer::ApplyResult applied;
        try {
          applied = layer::apply_layer(fd, entry.path() / "diff", apply_options(single));
        } catch (const Error&) {
          util::rethrow_with("layer blob {}", want.blob->str());
        }
        job.staged.emplace(store::StagedLayer{checked_record(want, applied, "the config says"), std::move(entry)});
      } catch (...) {
        job.error = std::current_exception();
      }
    };
    {
      // Layers are independent diffs: all extract at once, each thread with a Store of
      // its own (a Store is for one thread). The first stays on this thread.
      std::string root = store.root().string();
      std::vector<std::jthread> threads;  // after what they use: joined first
      for (std::size_t i = 1; i < jobs.size(); ++i)
        threads.emplace_back([&, i] {
          try {
            store::Store own = store::Store::open(root);
            extract(jobs[i], own);
          } catch (...) {
            jobs[i].error = std::current_exception();
          }
        });
      if (!jobs.empty()) extract(jobs[0], store);
    }
    std::vector<store::StagedLayer> staged;
    for (auto& job : jobs) {
      if (job.error) std::rethrow_exception(job.error);
      staged.push_back(std::move(*job.staged));
    }
    store.publish_layers(staged);
  } catch (...) {
    util::rethrow_with("unpack image {}", image.id.short_hex());
  }
}

}  // namespace kiln::archive
