// Exporting a container: a read-only snapshot of its layers, written as a tar.
#include "runtime/export.hpp"

#include "layer/create.hpp"
#include "runtime/container_record.hpp"
#include "runtime/diff.hpp"
#include "snapshot/snapshot.hpp"
#include "util/error.hpp"

namespace kiln::runtime {

void export_container(store::Store& store, const store::ContainerRecord& record, util::Fd out) {
  try {
    auto config = config_of(record);
    auto paths = container_paths(store, record.id);
    layer::CreateOptions options;
    options.compression = layer::Compression::none;
    if (config.driver == "vfs" && std::filesystem::exists(paths.vfs_rootfs)) {
      layer::create_layer(paths.vfs_rootfs, out, options);
      return;
    }
    // Declared before the mount so the mount goes first at scope exit.
    store::StagingDir staging = store.staging_dir("export");
    snapshot::SnapshotPlan plan;
    plan.lowers = image_lowers(store, record);
    std::string driver = config.driver.empty() ? "vfs" : config.driver;
    if (driver != "vfs") plan.lowers.insert(plan.lowers.begin(), paths.upper);
    plan.target = staging.path() / "merged";
    plan.links_dir = store.root() / "l";
    plan.read_only = true;
    auto view = snapshot::make_snapshotter(driver)->mount(plan);
    layer::create_layer(view.target(), out, options);
  } catch (...) {
    util::rethrow_with("export {}", record.name);
  }
}

}  // namespace kiln::runtime
