// The vfs driver: no mount. The lowers are applied bottom-up into a staging
// directory beside target, which is then renamed into place, so target is either
// absent/empty or complete. A target that already holds files is a copy made
// earlier (a restarted container) and is used as it is. upper and work are unused:
// target itself is the writable layer, and a diff compares it with the lowers.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "snapshot/drivers.hpp"
#include "snapshot/tree_copy.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::snapshot {
namespace {

bool non_empty_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && !fs::is_empty(dir, ec);
}

class VfsSnapshotter final : public Snapshotter {
public:
  std::string name() const override { return "vfs"; }
  bool uses_upper() const override { return false; }

  MountedSnapshot mount(const SnapshotPlan& plan) override {
    validate_plan(plan, name());
    try {
      if (non_empty_dir(plan.target)) return MountedSnapshot(plan.target, false);
      util::make_dirs(plan.target.parent_path());
      util::TempDir staging(plan.target.parent_path(), "." + plan.target.filename().string() + ".vfs-");
      for (auto lower = plan.lowers.rbegin(); lower != plan.lowers.rend(); ++lower)
        apply_layer_dir(*lower, staging.path());
      if (plan.lowers.empty() && ::chmod(staging.path().c_str(), 0755) < 0)
        throw util::sys_error("chmod {}", staging.path().string());
      // The copy must be on disk before it is published under target's name.
      util::UniqueFd sync_fd = util::open_file(staging.path(), O_RDONLY | O_DIRECTORY);
      if (::syncfs(sync_fd.get()) < 0) throw util::sys_error("syncfs {}", staging.path().string());
      // rename(2) replaces an empty directory, so a pre-created mount point is fine.
      util::rename_durable(staging.path(), plan.target);
      staging.keep();
      return MountedSnapshot(plan.target, false);
    } catch (...) {
      util::rethrow_with("copy vfs snapshot into {}", plan.target.string());
    }
  }
};

}  // namespace

std::unique_ptr<Snapshotter> make_vfs_snapshotter() { return std::make_unique<VfsSnapshotter>(); }

}  // namespace kiln::snapshot
