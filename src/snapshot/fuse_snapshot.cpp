// The fuse-overlayfs driver: the fuse-overlayfs program mounts the same layer dirs
// as the kernel driver (it reads char 0/0 whiteouts and user.overlay.opaque). It is
// run with links_dir as working directory so lowerdir holds short relative names,
// and it daemonises once the mount is ready, so its exit status is the mount's.
// Unmounting is umount2 on target (we are root of the mount namespace); the
// daemon exits when the file system goes away.
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "snapshot/drivers.hpp"
#include "snapshot/overlay_options.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

extern char** environ;

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

// Runs argv with cwd and stderr captured in a memfd; returns exit status and stderr.
std::pair<int, std::string> run_program(const std::vector<std::string>& args, const fs::path& cwd) {
  util::UniqueFd err(util::adopt, ::memfd_create("fuse-overlayfs-stderr", MFD_CLOEXEC));
  if (!err) throw util::sys_error("memfd_create");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.get(), 2);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, kProgram, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    if (rc == ENOENT) fail(ErrorKind::not_found, "{} not found in PATH (install the fuse-overlayfs package)", kProgram);
    throw util::sys_error_code(rc, "spawn {}", kProgram);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw util::sys_error("waitpid {}", kProgram);
  }
  ::lseek(err.get(), 0, SEEK_SET);
  std::string output = util::read_all(err);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, output};
}

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
      auto [code, output] = run_program(args, plan.links_dir);
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
