// The driver factory, plan validation, MountedSnapshot, and the driver probe.
#include "snapshot/snapshot.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <fstream>

#include "snapshot/drivers.hpp"
#include "snapshot/program.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kiln::snapshot {

const std::vector<std::string>& driver_names() {
  static const std::vector<std::string> names = {"overlay", "fuse-overlayfs", "vfs"};
  return names;
}

std::unique_ptr<Snapshotter> make_snapshotter(std::string_view driver) {
  if (driver == "overlay") return make_overlay_snapshotter();
  if (driver == "fuse-overlayfs") return make_fuse_snapshotter();
  if (driver == "vfs") return make_vfs_snapshotter();
  fail(ErrorKind::invalid_input, "unknown storage driver \"{}\" (valid: overlay, fuse-overlayfs, vfs)", driver);
}

namespace {

void require_absolute(const fs::path& path, std::string_view what) {
  if (path.empty()) fail(ErrorKind::invalid_input, "snapshot plan has no {} directory", what);
  if (!path.is_absolute())
    fail(ErrorKind::invalid_input, "snapshot {} directory {} is not an absolute path", what, path.string());
}

}  // namespace

void validate_plan(const SnapshotPlan& plan, std::string_view driver) {
  require_absolute(plan.target, "target");
  for (const auto& lower : plan.lowers) require_absolute(lower, "lower");
  bool overlay_like = driver != "vfs";
  if (!overlay_like) return;
  require_absolute(plan.links_dir, "links");
  if (plan.read_only) return;
  require_absolute(plan.upper, "upper");
  require_absolute(plan.work, "work");
  auto same = [](const fs::path& a, const fs::path& b) { return a.lexically_normal() == b.lexically_normal(); };
  if (same(plan.upper, plan.work) || same(plan.upper, plan.target) || same(plan.work, plan.target))
    fail(ErrorKind::invalid_input, "snapshot upper {}, work {} and target {} must be distinct directories",
         plan.upper.string(), plan.work.string(), plan.target.string());
  for (const auto& lower : plan.lowers)
    if (same(lower, plan.upper))
      fail(ErrorKind::invalid_input, "snapshot upper {} is also a lower", plan.upper.string());
}

namespace {

// umount2 inside our mount namespace; a fuse mount made outside one (fuse-overlayfs
// run by an unprivileged user goes through the setuid fusermount3) needs fusermount3.
void detach(const fs::path& target) {
  if (::umount2(target.c_str(), MNT_DETACH) == 0) return;
  int error = errno;
  if (error == EPERM) {
    try {
      if (run_program("fusermount3", {"fusermount3", "-u", "-z", target.string()}, {}).first == 0) return;
    } catch (const std::exception&) {
      // fall through to the umount2 error, which names the real problem
    }
  }
  throw util::sys_error_code(error, "umount {}", target.string());
}

}  // namespace

MountedSnapshot::MountedSnapshot(MountedSnapshot&& other) noexcept
    : target_(std::move(other.target_)), mounted_(std::exchange(other.mounted_, false)) {}

MountedSnapshot& MountedSnapshot::operator=(MountedSnapshot&& other) noexcept {
  if (this != &other) {
    reset();
    target_ = std::move(other.target_);
    mounted_ = std::exchange(other.mounted_, false);
  }
  return *this;
}

MountedSnapshot::~MountedSnapshot() { reset(); }

void MountedSnapshot::reset() noexcept {
  try {
    unmount();
  } catch (const std::exception& e) {
    util::warn("{}", util::describe(e));
  }
}

void MountedSnapshot::unmount() {
  if (!mounted_) return;
  mounted_ = false;
  detach(target_);
}

fs::path MountedSnapshot::release() noexcept {
  mounted_ = false;
  return target_;
}

namespace {

void write_text(const fs::path& path, std::string_view text) {
  auto fd = util::open_file(path, O_WRONLY | O_CREAT | O_TRUNC);
  util::write_all(fd, text);
}

// Mounts a one-layer snapshot, then checks what kiln relies on: lower content is
// visible, a write lands in upper, and a deletion leaves a char 0/0 whiteout.
void try_driver(Snapshotter& driver, const fs::path& dir) {
  SnapshotPlan plan;
  plan.lowers = {dir / "lower"};
  plan.upper = dir / "upper";
  plan.work = dir / "work";
  plan.target = dir / "merged";
  plan.links_dir = dir / "links";
  util::make_dirs(dir / "lower");
  write_text(dir / "lower" / "present", "x");
  write_text(dir / "lower" / "deleted", "x");
  MountedSnapshot mounted = driver.mount(plan);
  if (!fs::exists(plan.target / "present")) fail("lower file not visible");
  write_text(plan.target / "written", "y");
  if (::unlink((plan.target / "deleted").c_str()) < 0) throw util::sys_error("unlink in snapshot");
  mounted.unmount();
  if (!fs::exists(plan.upper / "written")) fail("write did not land in upper");
  struct stat st;
  if (::lstat((plan.upper / "deleted").c_str(), &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(0, 0))
    fail("deletion did not leave a char 0/0 whiteout in upper");
}

}  // namespace

std::string probe_driver(const fs::path& scratch_dir) {
  util::make_dirs(scratch_dir, 0700);
  for (const auto& name : driver_names()) {
    if (name == "vfs") break;
    try {
      util::TempDir dir(scratch_dir, "probe-" + name + "-");
      auto driver = make_snapshotter(name);
      try_driver(*driver, dir.path());
      util::debug("storage driver probe: {} works", name);
      return name;
    } catch (const std::exception& e) {
      util::debug("storage driver probe: {} refused: {}", name, util::describe(e));
    }
  }
  return "vfs";
}

}  // namespace kiln::snapshot
