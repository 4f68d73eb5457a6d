// Committing build layers and looking into layer stacks. A build layer's blob is
// its plain tar (blob digest == diff id): deflating every step's output was most
// of a cold build's CPU, and only a push needs it compressed (push gzips
// uncompressed layers by default, see registry/push.hpp).
#include "build/layers.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "layer/apply.hpp"
#include "snapshot/tree_copy.hpp"
#include "userns/userns.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::build {

store::LayerRecord commit_layer(store::Store& store, const fs::path& dir, const std::optional<util::Digest>& parent,
                                const CommitOptions& options, const std::vector<layer::Change>* changes) {
  try {
    store::StagingDir blob_dir = store.staging_dir("build-blob");
    fs::path blob = blob_dir.path() / "layer.tar";
    layer::CreateResult result;
    {
      auto out = util::open_file(blob, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      layer::CreateOptions create;
      create.compression = layer::Compression::none;
      create.from_overlay_upper = options.from_overlay_upper;
      create.source_date_epoch = options.timestamp;
      result = changes ? layer::create_layer_from_changes(dir, *changes, out, create)
                       : layer::create_layer(dir, out, create);
    }
    // Hashed while it was written: the store need not read 70 MB again.
    util::Digest blob_digest = store.put_written_blob(blob, result.blob_digest);

    store::LayerRecord record;
    record.diff_id = result.diff_id;
    record.parent = parent;
    record.chain_id = store::chain_id(parent, result.diff_id);
    record.blob = blob_digest;
    record.compressed_size = result.compressed_size;
    record.size = result.uncompressed_size;
    record.created = options.timestamp ? store::Clock::from_time_t(*options.timestamp) : store::Clock::now();
    if (auto existing = store.try_layer(record.chain_id)) return *existing;
    if (options.move_dir) return store.publish_layer(record, dir);
    return store.ensure_layer(record.chain_id, [&](const fs::path& diff) {
      layer::ApplyOptions apply;
      apply.whiteout_mode = layer::WhiteoutMode::overlay;
      apply.single_id = userns::current_map().single_id();
      auto in = util::open_read(store.blob_path(blob_digest));
      layer::apply_layer(in, diff, apply);
      return record;
    });
  } catch (...) {
    util::rethrow_with("commit layer");
  }
}

std::vector<fs::path> lower_dirs(const store::Store& store, const std::vector<util::Digest>& layers) {
  std::vector<fs::path> out;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) out.push_back(store.layer_dir(*it));
  return out;
}

std::optional<fs::path> find_in_layers(const store::Store& store, const std::vector<util::Digest>& layers,
                                       const std::string& rel) {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    fs::path path = store.layer_dir(*it) / rel;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      if (snapshot::is_whiteout_mode(st.st_mode, st.st_rdev)) return std::nullopt;
      return path;
    }
  }
  return std::nullopt;
}

std::string read_from_layers(const store::Store& store, const std::vector<util::Digest>& layers,
                             const std::string& rel) {
  auto path = find_in_layers(store, layers, rel);
  if (!path) return {};
  return util::try_read_file(*path).value_or("");
}

MountedStack::MountedStack(store::Store& store, const std::string& driver, const std::vector<util::Digest>& layers,
                           bool writable)
    : staging_(store.staging_dir("build-mount")) {
  auto snapshotter = snapshot::make_snapshotter(driver);
  uses_upper_ = snapshotter->uses_upper();
  snapshot::SnapshotPlan plan;
  plan.lowers = lower_dirs(store, layers);
  plan.target = staging_.path() / "root";
  plan.links_dir = store.root() / "l";
  if (uses_upper_ && (writable || plan.lowers.size() < 2)) {
    // Overlay needs an upper (or two lowers) to mount at all.
    plan.upper = staging_.path() / "upper";
    plan.work = staging_.path() / "work";
  } else if (uses_upper_) {
    plan.read_only = true;
  }
  if (plan.lowers.empty()) {
    // No layers (FROM scratch): an empty directory is the whole tree.
    util::make_dirs(plan.target, 0755);
    if (uses_upper_) {
      upper_ = plan.target;
      uses_upper_ = false;
    }
    root_ = plan.target;
    return;
  }
  mount_ = snapshotter->mount(plan);
  root_ = plan.target;
  upper_ = uses_upper_ ? plan.upper : plan.target;
}

MountedStack::~MountedStack() = default;

void MountedStack::unmount() {
  if (mount_.mounted()) mount_.unmount();
}

}  // namespace kiln::build
