// The fuse-overlayfs driver: the fuse-overlayfs program mounts the same layer dirs
// as the kernel driver (it reads char 0/0 whiteouts and user.overlay.opaque). It is
// run with links_dir as working directory so lowerdir holds short relative names,
// and it daemonises once the mount is ready, so its exit status is the mount's.
// Unmounting is umount2 on target (we are root of the mount namespace); the
// daemon exits when the file system goes away.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "snapshot/drivers.hpp"
#include "snapshot/overlay_options.hpp"
#include "snapshot/program.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::snapshot {

void check_dev_fuse() {
  int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    return;
  }
  int error = errno;
  fail("cannot open /dev/fuse: {} (as root, `chmod 0666 /dev/fuse` lets users mount with fuse-overlayfs)",
       std::strerror(error));
}

namespace {

constexpr const char* kProgram = "fuse-overlayfs";

// fuse-overlayfs chatters about options it ignores; keep only lines worth showing.
std::string useful_output(const std::string& output) {
  std::string kept;
  for (const auto& line : util::split(output, '\n')) {
    if (line.empty() || line.find("unknown argument ignored") != std::string::npos) continue;
    if (!kept.empty()) kept += "; ";
    kept += line;
  }
  return kept;
}

class FuseSnapshotter final : public Snapshotter {
public:
  std::string name() const override { return "fuse-overlayfs"; }
  bool uses_upper() const override { return true; }

  MountedSnapshot mount(const SnapshotPlan& plan) override {
    validate_plan(plan, name());
    try {
      check_dev_fuse();
      OverlayOptions options;
      options.lower_names = lower_link_names(plan.lowers, plan.read_only);
      options.userxattr = false;
      if (!plan.read_only) {
        options.upper = plan.upper;
        options.work = plan.work;
        util::make_dirs(plan.upper);
        util::make_dirs(plan.work, 0700);
      }
      // The page limit does not bind a program's argv, but staying under it keeps
      // both drivers accepting exactly the same images.
      std::string data = overlay_mount_data(options);
      make_short_links(plan.links_dir, plan.lowers);
      util::make_dirs(plan.target);
      std::vector<std::string> args = {kProgram, "-o", data};
      if (plan.read_only) args.insert(args.end(), {"-o", "ro"});
      args.push_back(plan.target.string());
      auto [code, output] = run_program(kProgram, args, plan.links_dir);
      if (code != 0) {
        std::string why = useful_output(output);
        fail("{} exited with {}{}{}", kProgram, code, why.empty() ? "" : ": ", why);
      }
      return MountedSnapshot(plan.target, true);
    } catch (...) {
      util::rethrow_with("mount fuse-overlayfs snapshot on {}", plan.target.string());
    }
  }
};

}  // namespace

std::unique_ptr<Snapshotter> make_fuse_snapshotter() { return std::make_unique<FuseSnapshotter>(); }

}  // namespace kiln::snapshot
