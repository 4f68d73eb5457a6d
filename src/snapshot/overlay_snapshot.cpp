// The overlay driver: kernel overlayfs with `userxattr`, so it mounts inside a user
// namespace and keeps its markers in user.overlay.* xattrs. Lowers are named by
// their short links and the mount runs with links_dir as working directory
// (mount(2) resolves relative lowerdir paths against the cwd), which keeps the
// option string within one page for hundreds of layers.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>

#include "snapshot/drivers.hpp"
#include "snapshot/overlay_options.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::snapshot {
namespace {

// Runs with the process's working directory set to dir, restoring it afterwards.
// The cwd is process-wide: mount while no other thread depends on relative paths.
class WorkingDirectory {
public:
  explicit WorkingDirectory(const fs::path& dir) {
    saved_ = util::open_file(".", O_PATH | O_DIRECTORY);
    auto fd = util::open_file(dir, O_PATH | O_DIRECTORY);
    if (::fchdir(fd.get()) < 0) throw util::sys_error("chdir {}", dir.string());
  }
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;
  ~WorkingDirectory() {
    if (::fchdir(saved_.get()) < 0) {
      // Nothing sensible to do: the old cwd vanished. Absolute paths still work.
    }
  }

private:
  util::UniqueFd saved_;
};

std::string mount_hint(int error) {
  switch (error) {
    case EPERM: return " (not permitted here: overlay must be mounted inside kiln's user namespace)";
    case EINVAL: return " (the kernel refused the options: userxattr needs Linux >= 5.11; see dmesg)";
    case ENODEV: return " (no overlay file system in this kernel)";
    default: return "";
  }
}

class OverlaySnapshotter final : public Snapshotter {
public:
  std::string name() const override { return "overlay"; }
  bool uses_upper() const override { return true; }

  MountedSnapshot mount(const SnapshotPlan& plan) override {
    validate_plan(plan, name());
    try {
      OverlayOptions options;
      options.lower_names = lower_link_names(plan.lowers, plan.read_only);
      if (!plan.read_only) {
        options.upper = plan.upper;
        options.work = plan.work;
        options.volatile_upper = plan.volatile_upper;
        util::make_dirs(plan.upper);
        util::make_dirs(plan.work, 0700);
      }
      std::string data = overlay_mount_data(options);
      make_short_links(plan.links_dir, plan.lowers);
      util::make_dirs(plan.target);
      unsigned long flags = plan.read_only ? MS_RDONLY : 0;
      WorkingDirectory in_links(plan.links_dir);
      if (::mount("overlay", plan.target.c_str(), "overlay", flags, data.c_str()) < 0) {
        int error = errno;
        throw util::sys_error_code(error, "mount overlay{}", mount_hint(error));
      }
      return MountedSnapshot(plan.target, true);
    } catch (...) {
      util::rethrow_with("mount overlay snapshot on {}", plan.target.string());
    }
  }
};

}  // namespace

std::unique_ptr<Snapshotter> make_overlay_snapshotter() { return std::make_unique<OverlaySnapshotter>(); }

}  // namespace kiln::snapshot
