// Committing a container: changes -> layer tarball -> stored layer -> config ->
// image record.
#include "runtime/commit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "archive/import.hpp"
#include "image/change.hpp"
#include "layer/create.hpp"
#include "runtime/container_record.hpp"
#include "runtime/create.hpp"
#include "runtime/diff.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::runtime {
namespace {

/// The image's run config with what the container changed about how it runs.
void carry_over(image::RunConfig& run, const ContainerConfig& config) {
  run.entrypoint = config.entrypoint;
  run.cmd = config.cmd;
  for (const auto& entry : config.spec.env) {
    auto kv = util::split_once(entry, '=');
    if (!kv || kv->first == "container") continue;  // the runtime's marker, not the image's
    if (run.env_value(kv->first) != kv->second) run.set_env(kv->first, kv->second);
  }
  if (!config.user.empty()) run.user = config.user;
  if (config.spec.cwd != "/" || !run.working_dir.empty()) run.working_dir = config.spec.cwd;
  for (const auto& [key, value] : config.labels) run.labels[key] = value;
}

/// The stored layers of the container's image, base first.
std::vector<store::LayerRecord> image_layers(const store::Store& store, const store::ContainerRecord& record) {
  std::vector<store::LayerRecord> layers;
  std::optional<util::Digest> chain = record.top_layer;
  while (chain) {
    layers.push_back(store.layer(*chain));
    chain = layers.back().parent;
  }
  std::reverse(layers.begin(), layers.end());
  return layers;
}

}  // namespace

archive::WrittenImage commit_container(store::Store& store, const store::ContainerRecord& record,
                                       const CommitOptions& options) {
  try {
    auto config = config_of(record);
    auto image = store.image(record.image_id.str());
    // Parse the changes before any work: a typo fails fast.
    image::ImageConfig parent = image_config_of(store, image);
    image::ImageConfig next = parent.fresh();
    carry_over(next.config, config);
    image::apply_changes(next.config, options.changes);

    auto changes = container_changes(store, record);
    auto paths = container_paths(store, record.id);
    auto source = config.driver == "vfs" ? paths.vfs_rootfs : paths.upper;
    store::StagingDir staging = store.staging_dir("commit");
    auto blob_file = staging.path() / "layer.tar.gz";
    layer::CreateResult created;
    {
      auto out = util::open_file(blob_file, O_WRONLY | O_CREAT | O_EXCL, 0644);
      layer::CreateOptions create_options;
      create_options.compression = layer::Compression::gzip;
      create_options.from_overlay_upper = config.driver != "vfs";
      // No changes: an empty layer, as Docker commits one.
      created = layer::create_layer_from_changes(changes.empty() ? staging.path() : source, changes, out,
                                                 create_options);
      if (::fsync(out.get()) < 0) throw util::sys_error("fsync {}", blob_file.string());
    }
    archive::ImportLayerOptions import_options;
    import_options.diff_id = created.diff_id;
    import_options.blob_digest = created.blob_digest;
    auto top = archive::import_layer(store, blob_file, record.top_layer, import_options);

    auto layers = image_layers(store, record);
    layers.push_back(top);
    auto now = Clock::now();
    next.set_created(now);
    next.author = options.author;
    next.diff_ids.push_back(top.diff_id);
    image::HistoryEntry history;
    history.created = next.created;
    std::string created_by;
    for (const auto& line : options.changes) created_by += (created_by.empty() ? "" : ", ") + line;
    history.created_by = created_by;
    history.author = options.author;
    history.comment = options.message;
    next.history.push_back(std::move(history));

    archive::WriteImageOptions write_options;
    write_options.names = options.names;
    write_options.docker_format = options.docker_format;
    return archive::write_image(store, layers, next.bytes(), write_options);
  } catch (...) {
    util::rethrow_with("commit {}", record.name);
  }
}

}  // namespace kiln::runtime
