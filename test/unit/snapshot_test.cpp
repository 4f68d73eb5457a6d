// snapshot: option strings, short links, plan validation, the page limit with 150
// lowers (pure); vfs layer application (no privilege needed); and, in suite
// "userns", real overlay and fuse-overlayfs mounts made by a forked child that
// enters a user namespace (or, as root, only a mount namespace).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <set>

#include "snapshot/drivers.hpp"
#include "snapshot/overlay_options.hpp"
#include "snapshot/snapshot.hpp"
#include "snapshot/tree_copy.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace kiln;
using namespace kiln::snapshot;

namespace {

fs::path temp_parent() {
  const char* dir = std::getenv("TMPDIR");
  return dir ? fs::path(dir) : fs::path("/tmp");
}

void write(const fs::path& path, std::string_view text) {
  util::make_dirs(path.parent_path());
  auto fd = util::open_file(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  util::write_all(fd, text);
}

std::string read(const fs::path& path) { return util::read_file(path); }

void whiteout(const fs::path& path) {
  util::make_dirs(path.parent_path());
  if (::mknod(path.c_str(), S_IFCHR | 0, makedev(0, 0)) < 0) throw util::sys_error("mknod {}", path.string());
}

void make_opaque(const fs::path& dir) {
  util::make_dirs(dir);
  if (::setxattr(dir.c_str(), "user.overlay.opaque", "y", 1, 0) < 0)
    throw util::sys_error("setxattr {}", dir.string());
}

bool is_whiteout(const fs::path& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && is_whiteout_mode(st.st_mode, st.st_rdev);
}

// The three-layer fixture: l3 bottom, l1 top. Returns lowers top-most first.
std::vector<fs::path> make_three_layers(const fs::path& root) {
  fs::path l1 = root / "l1", l2 = root / "l2", l3 = root / "l3";
  write(l3 / "a", "l3");
  write(l3 / "b", "l3");
  write(l3 / "dir/x", "l3");
  write(l3 / "opq/old", "l3");
  write(l3 / "del", "l3");
  write(l2 / "b", "l2");
  write(l2 / "dir/y", "l2");
  whiteout(l2 / "del");
  write(l1 / "c", "l1");
  make_opaque(l1 / "opq");
  write(l1 / "opq/new", "l1");
  return {l1, l2, l3};
}

// Throws a readable message; used inside forked children where doctest cannot report.
void expect(bool ok, std::string_view what) {
  if (!ok) fail("expected {}", what);
}

// Checks the merged view of make_three_layers (plus "a" = "upper" when upper was seeded).
void check_three_layers(const fs::path& merged, bool seeded_upper) {
  expect(read(merged / "a") == (seeded_upper ? "upper" : "l3"), "a from the right layer");
  expect(read(merged / "b") == "l2", "b from l2 (upper-most lower wins)");
  expect(read(merged / "c") == "l1", "c from l1");
  expect(fs::exists(merged / "dir/x") && fs::exists(merged / "dir/y"), "dir merged from l3 and l2");
  expect(!fs::exists(merged / "del") && !is_whiteout(merged / "del"), "whiteout hides del");
  expect(!fs::exists(merged / "opq/old"), "opaque dir hides opq/old");
  expect(read(merged / "opq/new") == "l1", "opq/new visible");
}

// Forks; the child enters a user + mount namespace (or only a mount namespace as
// root), runs body, and reports. Returns "" on success, "SKIP: why" when namespaces
// are unavailable, or the failure text.
std::string in_userns(const std::function<void()>& body) {
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipe_fds[0]);
    util::Fd out(pipe_fds[1]);
    int code = 0;
    try {
      try {
        if (uid != 0) {
          if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) throw util::sys_error("unshare(CLONE_NEWUSER)");
          util::write_all(util::open_file("/proc/self/setgroups", O_WRONLY), "deny");
          util::write_all(util::open_file("/proc/self/uid_map", O_WRONLY), fmt::format("0 {} 1", uid));
          util::write_all(util::open_file("/proc/self/gid_map", O_WRONLY), fmt::format("0 {} 1", gid));
        } else if (::unshare(CLONE_NEWNS) < 0) {
          throw util::sys_error("unshare(CLONE_NEWNS)");
        }
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) throw util::sys_error("make / private");
      } catch (const std::exception& e) {
        util::write_all(out, "SKIP: " + util::describe(e));
        ::_exit(2);
      }
      body();
    } catch (const std::exception& e) {
      util::write_all(out, util::describe(e));
      code = 1;
    }
    ::_exit(code);
  }
  ::close(pipe_fds[1]);
  util::UniqueFd in(util::adopt, pipe_fds[0]);
  std::string message = util::read_all(in);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (message.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    message = fmt::format("child ended with status {}", status);
  return message;
}

// Reports a child's result: a skip is printed as such, never silently passed.
void report(const std::string& result) {
  if (result.starts_with("SKIP: ")) {
    MESSAGE("SKIPPED (not a pass): " << result.substr(6));
    if (std::getenv("KILN_TEST_REQUIRE_USERNS")) FAIL("KILN_TEST_REQUIRE_USERNS is set: " << result);
    return;
  }
  CHECK_MESSAGE(result.empty(), result);
}

SnapshotPlan plan_in(const fs::path& root, std::vector<fs::path> lowers) {
  SnapshotPlan plan;
  plan.lowers = std::move(lowers);
  plan.upper = root / "upper";
  plan.work = root / "work";
  plan.target = root / "merged";
  plan.links_dir = root / "l";
  return plan;
}

// The shared body of the overlay and fuse-overlayfs mount tests.
void mount_three_layers(std::string_view driver_name, const fs::path& root) {
  auto driver = make_snapshotter(driver_name);
  SnapshotPlan plan = plan_in(root, make_three_layers(root));
  write(plan.upper / "a", "upper");
  fs::path cwd = fs::current_path();
  {
    MountedSnapshot mounted = driver->mount(plan);
    expect(fs::current_path() == cwd, "the working directory restored after mounting");
    expect(mounted.mounted(), "a mount");
    check_three_layers(plan.target, true);
    write(plan.target / "written", "w");
    expect(::unlink((plan.target / "b").c_str()) == 0, "unlink b in the snapshot");
    expect(!fs::exists(plan.target / "b"), "b gone");
  }  // MountedSnapshot unmounts here
  expect(!fs::exists(plan.target / "c"), "target unmounted after scope");
  expect(read(plan.upper / "written") == "w", "the write landed in upper");
  expect(is_whiteout(plan.upper / "b"), "deleting b left a char 0/0 whiteout in upper");
  // Read-only: no upper, the lowers only.
  SnapshotPlan ro = plan;
  ro.read_only = true;
  ro.target = root / "ro";
  MountedSnapshot mounted = driver->mount(ro);
  check_three_layers(ro.target, false);
  expect(::open((ro.target / "new").c_str(), O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS, "read-only mount");
}

void mount_many_layers(std::string_view driver_name, const fs::path& root, int count) {
  // A long base so that direct lowerdir paths would need far more than a page.
  fs::path base = root / std::string(100, 'x');
  std::vector<fs::path> lowers;
  for (int i = 0; i < count; ++i) {
    fs::path dir = base / fmt::format("{:064x}", i) / "diff";
    write(dir / fmt::format("f{}", i), "x");
    write(dir / "shared", std::to_string(i));
    lowers.push_back(dir);
  }
  auto driver = make_snapshotter(driver_name);
  MountedSnapshot mounted = driver->mount(plan_in(root, lowers));
  for (int i = 0; i < count; ++i) expect(fs::exists(root / "merged" / fmt::format("f{}", i)), "every layer visible");
  expect(read(root / "merged/shared") == "0", "the top-most layer wins");
}

}  // namespace

TEST_CASE("short link names are short, stable and distinct") {
  std::string a = short_link_name("/store/layers/aaa/diff");
  CHECK(a.size() == 10);
  CHECK(a.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567") == std::string::npos);
  CHECK(short_link_name("/store/layers/aaa/diff") == a);
  CHECK(short_link_name("/store/layers/aaa/./diff") == a);
  std::set<std::string> names;
  for (int i = 0; i < 1000; ++i) names.insert(short_link_name(fmt::format("/store/layers/{:064x}/diff", i)));
  CHECK(names.size() == 1000);
}

TEST_CASE("overlay option strings") {
  CHECK(escape_overlay_path("/a,b:c\\d") == "/a\\,b\\:c\\\\d");
  OverlayOptions options;
  options.lower_names = {"top", "mid", "bottom"};
  options.upper = "/s/upper";
  options.work = "/s/work";
  CHECK(overlay_mount_data(options) == "lowerdir=top:mid:bottom,upperdir=/s/upper,workdir=/s/work,userxattr");
  options.volatile_upper = true;
  CHECK(overlay_mount_data(options) ==
        "lowerdir=top:mid:bottom,upperdir=/s/upper,workdir=/s/work,userxattr,volatile");
  options.upper.clear();
  options.userxattr = false;
  CHECK(overlay_mount_data(options) == "lowerdir=top:mid:bottom");  // no upper: nothing volatile
}

TEST_CASE("lower names are padded where overlay needs two, and duplicates refused") {
  CHECK(lower_link_names({}, false) == std::vector<std::string>{"empty"});
  CHECK(lower_link_names({"/x"}, true) == std::vector<std::string>{short_link_name("/x"), "empty"});
  CHECK(lower_link_names({"/x"}, false).size() == 1);
  CHECK_THROWS_AS(lower_link_names({"/x", "/y", "/x"}, false), Error);
}

TEST_CASE("150 lowers under long paths fit one page; too many is a clear error") {
  std::vector<fs::path> lowers;
  for (int i = 0; i < 150; ++i)
    lowers.push_back(fmt::format("/home/someone-with-a-long-name/.local/share/kiln/layers/{:064x}/diff", i));
  OverlayOptions options;
  options.lower_names = lower_link_names(lowers, false);
  options.upper = "/home/someone-with-a-long-name/.local/share/kiln/containers/" + std::string(64, 'c') + "/upper";
  options.work = "/home/someone-with-a-long-name/.local/share/kiln/containers/" + std::string(64, 'c') + "/work";
  std::string data = overlay_mount_data(options);
  CHECK(data.size() <= kMaxMountData);
  CHECK(data.size() < 2000);
  for (int i = 150; i < 400; ++i) lowers.push_back(fmt::format("/l/{}", i));
  options.lower_names = lower_link_names(lowers, false);
  try {
    overlay_mount_data(options);
    FAIL("400 lowers did not throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_input);
    CHECK(std::string(e.what()).find("400 layers") != std::string::npos);
  }
}

TEST_CASE("plan validation") {
  SnapshotPlan plan = plan_in("/s", {"/s/l1"});
  CHECK_NOTHROW(validate_plan(plan, "overlay"));
  SnapshotPlan relative = plan;
  relative.lowers = {"l1"};
  CHECK_THROWS_AS(validate_plan(relative, "overlay"), Error);
  SnapshotPlan no_work = plan;
  no_work.work.clear();
  CHECK_THROWS_AS(validate_plan(no_work, "fuse-overlayfs"), Error);
  no_work.read_only = true;
  CHECK_NOTHROW(validate_plan(no_work, "overlay"));
  SnapshotPlan same = plan;
  same.work = same.upper;
  CHECK_THROWS_AS(validate_plan(same, "overlay"), Error);
  SnapshotPlan vfs = plan;
  vfs.upper.clear();
  vfs.work.clear();
  vfs.links_dir.clear();
  CHECK_NOTHROW(validate_plan(vfs, "vfs"));
  CHECK_THROWS_AS(validate_plan(vfs, "overlay"), Error);
}

TEST_CASE("driver names") {
  CHECK(driver_names() == std::vector<std::string>{"overlay", "fuse-overlayfs", "vfs"});
  for (const auto& name : driver_names()) CHECK(make_snapshotter(name)->name() == name);
  CHECK_FALSE(make_snapshotter("vfs")->uses_upper());
  CHECK_THROWS_AS(make_snapshotter("btrfs"), Error);
}

TEST_CASE("short links are made and repaired") {
  util::TempDir dir(temp_parent(), "kiln-snapshot-");
  fs::path links = dir.path() / "l";
  make_short_links(links, {dir.path() / "a", dir.path() / "b"});
  CHECK(fs::read_symlink(links / short_link_name(dir.path() / "a")) == dir.path() / "a");
  CHECK(fs::is_directory(links / "empty"));
  fs::remove(links / short_link_name(dir.path() / "b"));
  fs::create_symlink("/elsewhere", links / short_link_name(dir.path() / "b"));
  make_short_links(links, {dir.path() / "b"});
  CHECK(fs::read_symlink(links / short_link_name(dir.path() / "b")) == dir.path() / "b");
}

TEST_CASE("vfs applies three layers with whiteouts and opaque dirs") {
  util::TempDir dir(temp_parent(), "kiln-snapshot-");
  SnapshotPlan plan = plan_in(dir.path(), make_three_layers(dir.path()));
  auto vfs = make_snapshotter("vfs");
  MountedSnapshot copy = vfs->mount(plan);
  CHECK_FALSE(copy.mounted());
  CHECK_NOTHROW(check_three_layers(plan.target, false));
  CHECK_FALSE(fs::exists(plan.upper));
  // A populated target is a previous copy (a restarted container): kept as it is.
  write(plan.target / "mine", "kept");
  vfs->mount(plan);
  CHECK(read(plan.target / "mine") == "kept");
}

TEST_CASE("vfs honours xattr whiteouts and skips opaque markers") {
  util::TempDir dir(temp_parent(), "kiln-snapshot-");
  fs::path l1 = dir.path() / "l1", l2 = dir.path() / "l2";
  write(l2 / "etc/gone", "x");
  write(l2 / "etc/kept", "x");
  write(l1 / "etc/gone", "");
  REQUIRE(::setxattr((l1 / "etc/gone").c_str(), "user.overlay.whiteout", "y", 1, 0) == 0);
  REQUIRE(::setxattr((l1 / "etc").c_str(), "user.overlay.opaque", "x", 1, 0) == 0);  // "holds xattr whiteouts"
  write(l1 / "etc/empty", "");
  SnapshotPlan plan = plan_in(dir.path(), {l1, l2});
  make_snapshotter("vfs")->mount(plan);
  CHECK_FALSE(fs::exists(plan.target / "etc/gone"));
  CHECK(fs::exists(plan.target / "etc/kept"));  // opaque=x is not opaque
  CHECK(fs::exists(plan.target / "etc/empty"));
  char value[2];
  CHECK(::getxattr((plan.target / "etc").c_str(), "user.overlay.opaque", value, sizeof value) < 0);
}

TEST_CASE("vfs copies preserve modes, times, xattrs, symlinks and hardlinks") {
  util::TempDir dir(temp_parent(), "kiln-snapshot-");
  fs::path l1 = dir.path() / "l1", l2 = dir.path() / "l2";
  write(l2 / "bin/tool", "#!/bin/sh\n");
  ::chmod((l2 / "bin/tool").c_str(), 04755);
  write(l2 / "data/one", "shared");
  REQUIRE(::link((l2 / "data/one").c_str(), (l2 / "data/two").c_str()) == 0);
  fs::create_symlink("bin/tool", l2 / "link");
  fs::create_symlink("/nowhere", l2 / "lib");
  REQUIRE(::setxattr((l2 / "data/one").c_str(), "user.note", "hi", 2, 0) == 0);
  REQUIRE(::mkfifo((l2 / "fifo").c_str(), 0600) == 0);
  const struct timespec old_times[2] = {{1000000000, 0}, {1000000000, 5}};
  REQUIRE(::utimensat(AT_FDCWD, (l2 / "data/one").c_str(), old_times, AT_SYMLINK_NOFOLLOW) == 0);
  util::make_dirs(l2 / "ro");
  write(l2 / "ro/inside", "x");
  ::chmod((l2 / "ro").c_str(), 0555);
  REQUIRE(::utimensat(AT_FDCWD, (l2 / "ro").c_str(), old_times, 0) == 0);
  // l1 replaces the symlink lib with a directory and adds to the 0555 directory.
  write(l1 / "lib/libc.so", "elf");
  write(l1 / "ro/more", "y");
  ::chmod((l1 / "ro").c_str(), 0555);
  SnapshotPlan plan = plan_in(dir.path(), {l1, l2});
  make_snapshotter("vfs")->mount(plan);
  fs::path t = plan.target;
  struct stat st;
  REQUIRE(::stat((t / "bin/tool").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 04755);
  struct stat one, two;
  REQUIRE(::stat((t / "data/one").c_str(), &one) == 0);
  REQUIRE(::stat((t / "data/two").c_str(), &two) == 0);
  CHECK(one.st_ino == two.st_ino);
  CHECK(one.st_mtim.tv_sec == 1000000000);
  CHECK(one.st_mtim.tv_nsec == 5);
  char value[8] = {};
  CHECK(::getxattr((t / "data/one").c_str(), "user.note", value, sizeof value) == 2);
  CHECK(std::string_view(value, 2) == "hi");
  CHECK(fs::read_symlink(t / "link") == "bin/tool");
  CHECK(fs::is_directory(fs::symlink_status(t / "lib")));
  CHECK(read(t / "lib/libc.so") == "elf");
  CHECK(fs::is_fifo(t / "fifo"));
  REQUIRE(::stat((t / "ro").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0555);
  CHECK(fs::exists(t / "ro/inside"));
  CHECK(fs::exists(t / "ro/more"));
  ::chmod((l2 / "ro").c_str(), 0755);  // let TempDir clean up
  ::chmod((l1 / "ro").c_str(), 0755);
}

TEST_CASE("probe outside any namespace falls back and leaves no mount behind") {
  if (::geteuid() == 0) {
    MESSAGE("SKIPPED (not a pass): as root outside a namespace the probe would mount on the host");
    return;
  }
  util::TempDir dir(temp_parent(), "kiln-snapshot-");
  std::string name = probe_driver(dir.path() / "probe");
  CHECK(name != "overlay");  // an unprivileged user may not mount overlay outside a userns
  MESSAGE("probe outside a namespace chose " << name);
  CHECK(util::read_file("/proc/self/mountinfo").find(dir.path().string()) == std::string::npos);
  CHECK(fs::is_empty(dir.path() / "probe"));
}

TEST_SUITE("userns") {
  TEST_CASE("a failure inside the namespace child is reported") {
    std::string result = in_userns([] { expect(false, "this to fail"); });
    if (!result.starts_with("SKIP: ")) CHECK(result == "expected this to fail");
  }

  TEST_CASE("overlay: three lowers, upper wins, whiteout, opaque, write lands in upper") {
    util::TempDir dir(temp_parent(), "kiln-snapshot-");
    report(in_userns([&] { mount_three_layers("overlay", dir.path()); }));
  }

  TEST_CASE("overlay: 150 lowers under long paths") {
    util::TempDir dir(temp_parent(), "kiln-snapshot-");
    report(in_userns([&] { mount_many_layers("overlay", dir.path(), 150); }));
  }

  TEST_CASE("fuse-overlayfs: three lowers, upper wins, whiteout, opaque, write lands in upper") {
    try {
      check_dev_fuse();
    } catch (const std::exception& e) {
      report("SKIP: " + util::describe(e));
      return;
    }
    util::TempDir dir(temp_parent(), "kiln-snapshot-");
    report(in_userns([&] { mount_three_layers("fuse-overlayfs", dir.path()); }));
  }

  TEST_CASE("fuse-overlayfs: 150 lowers under long paths") {
    try {
      check_dev_fuse();
    } catch (const std::exception& e) {
      report("SKIP: " + util::describe(e));
      return;
    }
    util::TempDir dir(temp_parent(), "kiln-snapshot-");
    report(in_userns([&] { mount_many_layers("fuse-overlayfs", dir.path(), 150); }));
  }

  TEST_CASE("vfs: the same checks inside the namespace") {
    util::TempDir dir(temp_parent(), "kiln-snapshot-");
    report(in_userns([&] {
      SnapshotPlan plan = plan_in(dir.path(), make_three_layers(dir.path()));
      make_snapshotter("vfs")->mount(plan);
      check_three_layers(plan.target, false);
    }));
  }

  TEST_CASE("probe picks a driver that works") {
    util::TempDir dir(temp_parent(), "kiln-snapshot-");
    report(in_userns([&] {
      std::string name = probe_driver(dir.path() / "probe");
      // Linux >= 5.11 allows overlay in a user namespace; older kernels fall back.
      expect(name == "overlay" || name == "fuse-overlayfs" || name == "vfs", "a known driver");
      if (std::getenv("KILN_TEST_EXPECT_DRIVER"))
        expect(name == std::getenv("KILN_TEST_EXPECT_DRIVER"), fmt::format("the expected driver, got {}", name));
      expect(fs::is_empty(dir.path() / "probe"), "probe leaves its scratch dir empty");
    }));
  }
}
