// runtime: USER resolution, capability sets, seccomp profiles (JSON and the
// built-in one) and plans, mount options; then, in suite "userns", real
// containers from a busybox rootfs made here (skipped without busybox or a
// usable user namespace).
#include <doctest/doctest.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <signal.h>

#include "runtime/capabilities.hpp"
#include "runtime/container.hpp"
#include "runtime/mounts.hpp"
#include "runtime/seccomp_profile.hpp"
#include "runtime/seccomp_program.hpp"
#include "runtime/user.hpp"
#include "userns/userns.hpp"
#include "util/build_id.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

using namespace kiln;
using namespace kiln::runtime;
namespace fs = std::filesystem;

namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "# a comment\n"
    "broken line\n"
    "app:x:1000:1000::/home/app:/bin/sh\n";
const char* kGroup =
    "root:x:0:root\n"
    "wheel:x:10:root,app\n"
    "staff:x:50:app\n"
    "app:x:1000:\n"
    "audio:x:29:\n";

std::string error_of(auto&& action) {
  try {
    action();
  } catch (const std::exception& e) {
    return util::describe(e);
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("resolve_user follows runc's rules") {
  CHECK(resolve_user("", kPasswd, kGroup) == UserIds{0, 0, {}});
  CHECK(resolve_user("root", kPasswd, kGroup) == UserIds{0, 0, {0, 10}});
  CHECK(resolve_user("app", kPasswd, kGroup) == UserIds{1000, 1000, {10, 50}});
  // A number matches by uid and then brings the user's groups, as a name does.
  CHECK(resolve_user("1000", kPasswd, kGroup) == UserIds{1000, 1000, {10, 50}});
  // A number not in passwd is fine; the gid defaults to 0.
  CHECK(resolve_user("4242", kPasswd, kGroup) == UserIds{4242, 0, {}});
  CHECK(resolve_user("4242", "", "") == UserIds{4242, 0, {}});
  // An explicit group sets the gid and drops the supplementary groups.
  CHECK(resolve_user("app:audio", kPasswd, kGroup) == UserIds{1000, 29, {}});
  CHECK(resolve_user("app:77", kPasswd, kGroup) == UserIds{1000, 77, {}});
  CHECK(resolve_user("1:wheel", kPasswd, kGroup) == UserIds{1, 10, {}});
  CHECK(resolve_user("5:6", "", "") == UserIds{5, 6, {}});
  CHECK(error_of([] { resolve_user("nobody", kPasswd, kGroup); }) ==
        "unable to find user nobody: no matching entries in passwd file");
  CHECK(error_of([] { resolve_user("app:nogroup", kPasswd, kGroup); }) ==
        "unable to find group nogroup: no matching entries in group file");
  CHECK(error_of([] { resolve_user("app", "", ""); }) ==
        "unable to find user app: no matching entries in passwd file");
}

TEST_CASE("capability names and Docker's default set") {
  CHECK(capability_number("chown") == 0);
  CHECK(capability_number("CAP_SYS_ADMIN") == 21);
  CHECK(capability_number("Cap_Net_Admin") == 12);
  CHECK(capability_number("CAP_NOPE") == std::nullopt);
  CHECK(capability_name(40) == "CAP_CHECKPOINT_RESTORE");
  CHECK(docker_default_capabilities().bits == 0xa80425fbULL);
  CHECK(docker_default_capabilities().names().size() == 14);
}

TEST_CASE("cap-add and cap-drop as Docker applies them") {
  CHECK(compute_capabilities({}).bits == 0xa80425fbULL);
  CHECK(compute_capabilities({{"NET_ADMIN"}, {}}).bits == 0xa80435fbULL);
  CHECK(compute_capabilities({{}, {"chown", "CAP_KILL"}}).bits == (0xa80425fbULL & ~0x21ULL));
  CHECK(compute_capabilities({{}, {"ALL"}}).bits == 0);
  CHECK(compute_capabilities({{"sys_admin"}, {"all"}}).bits == (1ULL << 21));
  CHECK(compute_capabilities({{"ALL"}, {"SYS_ADMIN"}}) == CapabilitySet{all_capabilities().bits & ~(1ULL << 21)});
  CHECK(error_of([] { compute_capabilities({{"FOO"}, {}}); }) == "unknown capability: \"CAP_FOO\"");
  CHECK(util::kind_of(Error("x", ErrorKind::invalid_input)) == ErrorKind::invalid_input);
}

TEST_CASE("a non-root user gets no effective capabilities, only the bounding set") {
  auto set = docker_default_capabilities();
  auto root = plan_capabilities(set, 0);
  CHECK(root.effective == set);
  CHECK(root.permitted == set);
  CHECK(root.inheritable.bits == 0);
  auto user = plan_capabilities(set, 1000);
  CHECK(user.bounding == set);
  CHECK(user.effective.bits == 0);
  CHECK(user.permitted.bits == 0);
}

namespace {

const SeccompPlanRule* find_rule(const SeccompPlan& plan, std::string_view name) {
  auto it = std::find_if(plan.rules.begin(), plan.rules.end(), [&](const SeccompPlanRule& r) { return r.syscall == name; });
  return it == plan.rules.end() ? nullptr : &*it;
}
std::size_t count_rules(const SeccompPlan& plan, std::string_view name) {
  return static_cast<std::size_t>(
      std::count_if(plan.rules.begin(), plan.rules.end(), [&](const SeccompPlanRule& r) { return r.syscall == name; }));
}

SeccompContext context_with(CapabilitySet caps, std::string kernel = "6.1.0") {
  SeccompContext context;
  context.caps = caps;
  context.arch = "amd64";
  context.kernel = std::move(kernel);
  return context;
}

}  // namespace

TEST_CASE("default seccomp plan: allowlist, refusals, cap-gated extras") {
  auto plan = plan_seccomp(default_seccomp_profile(), context_with(docker_default_capabilities()));
  CHECK(plan.default_action == SeccompAction::errno_return);
  CHECK(plan.default_errno == 1);
  REQUIRE(find_rule(plan, "read"));
  CHECK(find_rule(plan, "read")->action == SeccompAction::allow);
  for (auto refused : {"keyctl", "add_key", "request_key", "unshare", "mount", "bpf", "perf_event_open",
                       "kexec_load", "open_by_handle_at", "init_module", "swapon", "reboot", "setns"})
    CHECK_MESSAGE(find_rule(plan, refused) == nullptr, std::string(refused));
  CHECK(find_rule(plan, "ptrace") != nullptr);  // kernel >= 4.8
  CHECK(find_rule(plan, "arch_prctl") != nullptr);
  CHECK(find_rule(plan, "chroot") != nullptr);  // CAP_SYS_CHROOT is in the default set

  const SeccompPlanRule* clone = find_rule(plan, "clone");
  REQUIRE(clone);
  REQUIRE(clone->args.size() == 1);
  CHECK(clone->args[0].op == SeccompArg::Op::masked_eq);
  CHECK(clone->args[0].value == 0x7E020000ULL);
  const SeccompPlanRule* clone3 = find_rule(plan, "clone3");
  REQUIRE(clone3);
  CHECK(clone3->action == SeccompAction::errno_return);
  CHECK(clone3->errno_ret == 38);
  CHECK(count_rules(plan, "personality") == 5);

  auto old_kernel = plan_seccomp(default_seccomp_profile(), context_with(docker_default_capabilities(), "4.4.0"));
  CHECK(find_rule(old_kernel, "ptrace") == nullptr);

  auto arm = context_with(docker_default_capabilities());
  arm.arch = "arm64";
  CHECK(find_rule(plan_seccomp(default_seccomp_profile(), arm), "arch_prctl") == nullptr);
}

TEST_CASE("seccomp cache key: every input of the compiled program changes it") {
  auto plan = plan_seccomp(default_seccomp_profile(), context_with(docker_default_capabilities()));
  std::string key = seccomp_cache_key(plan, "libseccomp 2.5.4 arch 0xc000003e");
  CHECK(key.size() == 64);
  CHECK(key == seccomp_cache_key(plan, "libseccomp 2.5.4 arch 0xc000003e"));
  CHECK(key != seccomp_cache_key(plan, "libseccomp 2.5.5 arch 0xc000003e"));
  CHECK(key != seccomp_cache_key(plan, "libseccomp 2.5.4 arch 0xc00000b7"));

  auto single = context_with(docker_default_capabilities());
  single.single_id = true;
  CHECK(key != seccomp_cache_key(plan_seccomp(default_seccomp_profile(), single), "libseccomp 2.5.4 arch 0xc000003e"));

  auto changed = plan;
  REQUIRE(!changed.rules.empty());
  changed.rules[0].errno_ret += 1;
  CHECK(key != seccomp_cache_key(changed, "libseccomp 2.5.4 arch 0xc000003e"));
  changed = plan;
  changed.default_errno = 38;
  CHECK(key != seccomp_cache_key(changed, "libseccomp 2.5.4 arch 0xc000003e"));
  changed = plan;
  changed.architectures.push_back("x32");
  CHECK(key != seccomp_cache_key(changed, "libseccomp 2.5.4 arch 0xc000003e"));
  changed = plan;
  changed.bad_arch_errno = 38;
  CHECK(key != seccomp_cache_key(changed, "libseccomp 2.5.4 arch 0xc000003e"));
  changed = plan;
  auto with_args = std::find_if(changed.rules.begin(), changed.rules.end(), [](auto& r) { return !r.args.empty(); });
  REQUIRE(with_args != changed.rules.end());
  with_args->args[0].value_two ^= 1;
  CHECK(key != seccomp_cache_key(changed, "libseccomp 2.5.4 arch 0xc000003e"));
}

TEST_CASE("seccomp cache entries: round trip, and anything torn or altered is refused") {
  SeccompProgram program{std::string("\x20\x00\x00\x00\x04\x00\x00\x00\x06\x00\x00\x00\x00\x00\xff\x7f", 16)};
  std::string entry = seccomp_cache_entry(program);
  auto back = parse_seccomp_cache_entry(entry);
  REQUIRE(back);
  CHECK(back->bpf == program.bpf);

  CHECK_FALSE(parse_seccomp_cache_entry(""));
  CHECK_FALSE(parse_seccomp_cache_entry(entry.substr(0, entry.size() - 8)));  // truncated
  CHECK_FALSE(parse_seccomp_cache_entry(entry.substr(0, 40)));
  std::string flipped = entry;
  flipped.back() ^= 1;
  CHECK_FALSE(parse_seccomp_cache_entry(flipped));
  std::string other = entry;
  other[0] = 'X';
  CHECK_FALSE(parse_seccomp_cache_entry(other));
  // A body that is not whole instructions is refused even with a matching digest.
  CHECK_FALSE(parse_seccomp_cache_entry(seccomp_cache_entry(SeccompProgram{std::string(12, 'a')})));
  CHECK_FALSE(parse_seccomp_cache_entry(seccomp_cache_entry(SeccompProgram{})));
}

TEST_CASE("CAP_SYS_ADMIN and friends unlock what Docker unlocks") {
  auto caps = compute_capabilities({{"SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE"}, {}});
  auto plan = plan_seccomp(default_seccomp_profile(), context_with(caps));
  for (auto name : {"mount", "unshare", "setns", "umount2", "bpf", "kcmp", "init_module"})
    CHECK_MESSAGE(find_rule(plan, name) != nullptr, std::string(name));
  // clone loses its flag condition, clone3 is allowed.
  REQUIRE(count_rules(plan, "clone") == 1);
  CHECK(find_rule(plan, "clone")->args.empty());
  CHECK(find_rule(plan, "clone3")->action == SeccompAction::allow);
  CHECK(find_rule(plan, "keyctl") == nullptr);
}

TEST_CASE("single-id mode turns the chown family into successful no-ops") {
  auto context = context_with(docker_default_capabilities());
  context.single_id = true;
  auto plan = plan_seccomp(default_seccomp_profile(), context);
  for (auto name : {"chown", "fchown", "lchown", "fchownat", "chown32"}) {
    CHECK_MESSAGE(count_rules(plan, name) == 1, std::string(name));
    REQUIRE(find_rule(plan, name));
    CHECK(find_rule(plan, name)->action == SeccompAction::errno_return);
    CHECK(find_rule(plan, name)->errno_ret == 0);
  }
  CHECK(find_rule(plan, "chmod")->action == SeccompAction::allow);
}

TEST_CASE("Docker-format seccomp JSON") {
  const char* json = R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
      {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["ptrace"], "action": "SCMP_ACT_LOG", "includes": {"minKernel": "4.8"}},
      {"name": "kill", "action": "SCMP_ACT_KILL_PROCESS"}
    ]})";
  auto profile = parse_seccomp_profile(json, "p.json");
  CHECK(profile.default_action == SeccompAction::errno_return);
  CHECK(profile.default_errno == 1);
  if (native_go_arch() == "amd64") CHECK(profile.architectures == std::vector<std::string>{"x86_64", "x86", "x32"});
  REQUIRE(profile.rules.size() == 6);
  CHECK(profile.rules[1].args[0] == SeccompArg{0, 8, 0, SeccompArg::Op::eq});
  CHECK(profile.rules[3].errno_ret == 38);
  CHECK(profile.rules[5].names == std::vector<std::string>{"kill"});

  auto plan = plan_seccomp(profile, context_with(docker_default_capabilities()));
  CHECK(find_rule(plan, "mount") == nullptr);
  CHECK(find_rule(plan, "clone3")->errno_ret == 38);
  CHECK(find_rule(plan, "ptrace")->action == SeccompAction::log);
  CHECK(find_rule(plan, "kill")->action == SeccompAction::kill_process);
  auto admin = plan_seccomp(profile, context_with(compute_capabilities({{"SYS_ADMIN"}, {}})));
  CHECK(find_rule(admin, "mount") != nullptr);
  CHECK(find_rule(admin, "clone3") == nullptr);

  auto architectures = parse_seccomp_profile(R"({"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"]})", "a");
  CHECK(architectures.architectures == std::vector<std::string>{"x86_64"});
  CHECK(architectures.rules.empty());
}

TEST_CASE("bad seccomp JSON is an error naming the file and the field") {
  auto error = [](const char* text) { return error_of([&] { parse_seccomp_profile(text, "p.json"); }); };
  CHECK(error("{") .starts_with("p.json: invalid JSON"));
  CHECK(error("[]") == "p.json: invalid seccomp profile: the top level must be an object");
  CHECK(error("{}") == "p.json: invalid seccomp profile: missing \"defaultAction\"");
  CHECK(error(R"({"defaultAction":"SCMP_ACT_NOTIFY"})") ==
        "p.json: invalid seccomp profile: unsupported action \"SCMP_ACT_NOTIFY\"");
  CHECK(error(R"({"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]})") ==
        "p.json: invalid seccomp profile: unknown architecture \"SCMP_ARCH_Z80\"");
  CHECK(error(R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ALLOW"}]})") ==
        "p.json: invalid seccomp profile: syscalls[0] has no \"names\"");
  CHECK(error(R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW",
                 "args":[{"index":0,"value":1,"op":"SCMP_CMP_ALMOST"}]}]})") ==
        "p.json: invalid seccomp profile: unknown argument operator \"SCMP_CMP_ALMOST\"");
  CHECK(error(R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW",
                 "args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]})") ==
        "p.json: invalid seccomp profile: argument index 9 out of range (0-5)");
  CHECK(util::kind_of(Error("x", ErrorKind::invalid_input)) == ErrorKind::invalid_input);
}

TEST_CASE("mount options split into flags and data") {
  auto options = parse_mount_options("size=64m, noexec,mode=1777,ro,nosuid,rw");
  CHECK(options.flags == (MS_NOEXEC | MS_RDONLY | MS_NOSUID));
  CHECK(options.data == "size=64m,mode=1777");
  CHECK(parse_mount_options("").flags == 0);
}

TEST_CASE("exit status as Docker reports it") {
  CHECK(docker_exit_status(3 << 8) == 3);
  CHECK(docker_exit_status(SIGKILL) == 137);
}

// ---------------------------------------------------------------------------
// Real containers.

namespace {

/// The probe helper built next to this test (test/helpers/probe), if built.
fs::path probe_binary() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return self.parent_path() / "helpers" / "probe";
}

/// A busybox rootfs shared by all container tests, created once.
struct Rootfs {
  std::optional<util::TempDir> dir;
  bool have_probe = false;
  std::string skip_reason;

  Rootfs() {
    if (!fs::exists("/bin/busybox")) {
      skip_reason = "no /bin/busybox (apt-get install busybox-static)";
      return;
    }
    try {
      userns::enter();
    } catch (const std::exception& e) {
      skip_reason = "no user namespace: " + util::describe(e);
      return;
    }
    dir.emplace(fs::temp_directory_path(), "kiln-runtime-test-");
    fs::path root = dir->path();
    fs::permissions(root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    for (auto sub : {"bin", "etc", "tmp", "proc", "dev", "sys", "data", "srv"}) fs::create_directories(root / sub);
    fs::permissions(root / "tmp", fs::perms::all | fs::perms::sticky_bit);
    fs::copy_file("/bin/busybox", root / "bin/busybox");
    for (auto applet : {"sh", "cat", "id", "ls", "echo", "touch", "hostname", "pwd", "grep", "ip", "sleep", "test",
                        "wc", "chown", "stat", "kill", "true"})
      fs::create_symlink("busybox", root / "bin" / applet);
    util::write_all(util::open_file(root / "etc/passwd", O_WRONLY | O_CREAT), kPasswd);
    util::write_all(util::open_file(root / "etc/group", O_WRONLY | O_CREAT), kGroup);
    util::write_all(util::open_file(root / "bin/notexec", O_WRONLY | O_CREAT, 0644), "#!/bin/sh\n");
    if (fs::exists(probe_binary())) {
      fs::copy_file(probe_binary(), root / "bin/probe");
      have_probe = true;
    }
  }
  fs::path path() const { return dir->path(); }
};

Rootfs& rootfs() {
  static Rootfs instance;
  return instance;
}

#define REQUIRE_ROOTFS()                                  \
  do {                                                    \
    if (!rootfs().dir) {                                  \
      MESSAGE("skipped: " << rootfs().skip_reason);       \
      return;                                             \
    }                                                     \
  } while (0)

#define REQUIRE_PROBE()                                                        \
  do {                                                                         \
    REQUIRE_ROOTFS();                                                          \
    if (!rootfs().have_probe) {                                                \
      MESSAGE("skipped: test/helpers/probe not built (ninja test/helpers/probe)"); \
      return;                                                                  \
    }                                                                          \
  } while (0)

ContainerSpec spec_for(std::vector<std::string> args) {
  ContainerSpec spec;
  spec.rootfs = rootfs().path().string();
  spec.args = std::move(args);
  spec.env = {"PATH=/bin", "HOME=/root"};
  spec.single_id = userns::current_map().single_id();
  return spec;
}

struct Result {
  int status = -1;
  std::string out;
};

/// Starts the container (with options, whose stdout and stderr go to a pipe); returns
/// status and output.
Result run_capture(const ContainerSpec& spec, StartOptions options = {}) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  util::UniqueFd read_end{util::adopt, fds[0]};
  util::UniqueFd write_end{util::adopt, fds[1]};
  options.stdio.out = write_end;
  options.stdio.err = write_end;
  auto process = start(spec, options);
  write_end.reset();
  Result result;
  result.out = util::read_all(read_end);
  result.status = process.wait();
  return result;
}

std::string trimmed(const std::string& text) { return std::string(util::trim(text)); }

}  // namespace

TEST_SUITE("userns") {

TEST_CASE("exit codes propagate") {
  REQUIRE_ROOTFS();
  CHECK(run_capture(spec_for({"true"})).status == 0);
  CHECK(run_capture(spec_for({"sh", "-c", "exit 3"})).status == 3);
  // pid 1 ignores even SIGKILL from inside; from kiln's namespace it dies.
  auto sleeper = start(spec_for({"sleep", "30"}));
  sleeper.kill(SIGKILL);
  CHECK(sleeper.wait() == 137);
}

TEST_CASE("start: with a before_start hook the child waits for it; without one it shares our memory") {
  REQUIRE_ROOTFS();
  // The hook runs before the command does: it sees the child alive and still kiln.
  StartOptions hooked;
  std::string comm_before;
  hooked.before_start = [&](pid_t pid) { comm_before = util::try_read_file(fmt::format("/proc/{}/comm", pid)).value_or(""); };
  auto result = run_capture(spec_for({"sh", "-c", "echo hooked"}), hooked);
  CHECK(result.status == 0);
  CHECK(trimmed(result.out) == "hooked");
  CHECK(trimmed(comm_before) != "sh");
  CHECK_FALSE(comm_before.empty());
  // Without a hook, start() returns after the exec, failures included, and our memory
  // (the child ran on it) is intact: the same spec runs again and fails the same way.
  for (int i = 0; i < 3; ++i) {
    CHECK(trimmed(run_capture(spec_for({"sh", "-c", "echo plain"})).out) == "plain");
    try {
      run_capture(spec_for({"nosuchcmd"}));
      FAIL("no error");
    } catch (const std::exception& e) {
      CHECK(util::kind_of(e) == ErrorKind::command_not_found);
    }
  }
}

TEST_CASE("a missing command is 127, a non-executable one 126") {
  REQUIRE_ROOTFS();
  try {
    run_capture(spec_for({"nosuchcmd"}));
    FAIL("no error");
  } catch (const std::exception& e) {
    CHECK(util::kind_of(e) == ErrorKind::command_not_found);
    CHECK(util::describe(e) == "executable file not found in $PATH: \"nosuchcmd\"");
  }
  try {
    run_capture(spec_for({"/bin/notexec"}));
    FAIL("no error");
  } catch (const std::exception& e) {
    CHECK(util::kind_of(e) == ErrorKind::not_executable);
    CHECK(util::describe(e) == "exec \"/bin/notexec\": Permission denied");
  }
  try {
    run_capture(spec_for({"notexec"}));
    FAIL("no error");
  } catch (const std::exception& e) {
    CHECK(util::kind_of(e) == ErrorKind::not_executable);
  }
}

TEST_CASE("the command is pid 1 and sees no host process") {
  REQUIRE_ROOTFS();
  CHECK(trimmed(run_capture(spec_for({"sh", "-c", "echo $$"})).out) == "1");
  auto listing = run_capture(spec_for({"sh", "-c", "ls /proc | grep -c '^[0-9]'"}));
  CHECK(std::stoi(listing.out) <= 3);
}

TEST_CASE("--init: kiln's reaper is pid 1 and passes the status on") {
  REQUIRE_ROOTFS();
  auto spec = spec_for({"sh", "-c", "echo $$; exit 5"});
  spec.init = true;
  auto result = run_capture(spec);
  CHECK(trimmed(result.out) == "2");
  CHECK(result.status == 5);
  spec.args = {"nosuchcmd"};
  CHECK_THROWS_AS(run_capture(spec), Error);
}

TEST_CASE("capabilities: Docker's default set, changed by add and drop") {
  REQUIRE_PROBE();
  CHECK(trimmed(run_capture(spec_for({"probe", "caps"})).out) == "CapEff:\t00000000a80425fb");
  auto spec = spec_for({"probe", "caps"});
  spec.capabilities = {{"NET_ADMIN"}, {"CHOWN"}};
  CHECK(trimmed(run_capture(spec).out) == "CapEff:\t00000000a80435fa");
  spec.capabilities = {{}, {"ALL"}};
  CHECK(trimmed(run_capture(spec).out) == "CapEff:\t0000000000000000");
  auto bounding = spec_for({"grep", "CapBnd", "/proc/self/status"});
  CHECK(trimmed(run_capture(bounding).out) == "CapBnd:\t00000000a80425fb");
}

TEST_CASE("seccomp: the default profile refuses keyctl and user namespaces") {
  REQUIRE_PROBE();
  CHECK(trimmed(run_capture(spec_for({"probe", "syscall", "keyctl"})).out) == "EPERM");
  CHECK(trimmed(run_capture(spec_for({"probe", "syscall", "unshare-user"})).out) == "EPERM");
  auto spec = spec_for({"probe", "syscall", "keyctl"});
  spec.seccomp.mode = SeccompChoice::Mode::unconfined;
  CHECK(trimmed(run_capture(spec).out) == "ok");
  spec.args = {"probe", "syscall", "unshare-user"};
  CHECK(trimmed(run_capture(spec).out) == "ok");
}

TEST_CASE("seccomp: a cached program is written once, reused, and replaced when corrupt") {
  REQUIRE_PROBE();
  util::TempDir dir(fs::temp_directory_path(), "kiln-seccomp-cache-");
  fs::path cache = dir.path() / "seccomp";
  auto spec = spec_for({"probe", "syscall", "keyctl"});
  auto run_cached = [&] {
    StartOptions options;
    options.seccomp_cache = cache;
    Result result = run_capture(spec, options);
    CHECK(result.status == 0);
    return trimmed(result.out);
  };
  CHECK(run_cached() == "EPERM");
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(cache)) entries.push_back(e.path());
  REQUIRE(entries.size() == 1);
  std::string first = util::read_file(entries[0]);
  REQUIRE(parse_seccomp_cache_entry(first));
  // The same program compiled afresh equals the cached one.
  auto plan = plan_seccomp(default_seccomp_profile(), [&] {
    SeccompContext c;
    c.caps = compute_capabilities(spec.capabilities);
    c.kernel = running_kernel_version();
    c.single_id = spec.single_id;
    return c;
  }());
  drop_unavailable_architectures(plan);
  CHECK(parse_seccomp_cache_entry(first)->bpf == compile_seccomp(plan).bpf);
  // Keyed by kiln's build id and the facts the default plan depends on, not the plan.
  REQUIRE_FALSE(util::program_build_id().empty());
  CHECK(entries[0].filename().string().size() == 64 + 4);
  CHECK(entries[0].filename() != seccomp_cache_key(plan, seccomp_build_id()) + ".bpf");

  auto mtime = fs::last_write_time(entries[0]);
  CHECK(run_cached() == "EPERM");
  CHECK(fs::last_write_time(entries[0]) == mtime);  // read, not written again

  util::write_file_replace(entries[0], first.substr(0, first.size() / 2));
  CHECK(run_cached() == "EPERM");
  CHECK(util::read_file(entries[0]) == first);
  spec.args = {"probe", "syscall", "unshare-user"};
  CHECK(run_cached() == "EPERM");
  // Other capabilities, another plan: an entry of its own, and the program it holds.
  spec.capabilities.add = {"CAP_SYS_ADMIN"};
  CHECK(run_cached() == "ok");
  CHECK(std::distance(fs::directory_iterator(cache), fs::directory_iterator()) == 2);
}

TEST_CASE("seccomp: without x32 in the filter an x32 call fails with ENOSYS, as the kernel's own answer") {
#if defined(__x86_64__)
  SeccompPlan plan;
  plan.default_action = SeccompAction::errno_return;
  plan.default_errno = EPERM;
  plan.architectures = {"x86_64", "x86", "x32"};
  for (const char* name : {"getpid", "exit_group", "exit", "write"}) plan.rules.push_back({name, SeccompAction::allow, 0, {}});
  const long x32_getpid = 0x40000000L | SYS_getpid;
  // In a child: the filter's status and what an x32 getpid answered (or the signal).
  auto x32_answer = [&](const SeccompPlan& p) {
    SeccompProgram program = compile_seccomp(p);
    pid_t child = ::fork();
    if (child == 0) {
      install_seccomp(program);
      long rc = ::syscall(x32_getpid);
      ::_exit(rc >= 0 ? 0 : errno == ENOSYS ? 38 : errno == EPERM ? 1 : 2);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
  };
  int with_x32 = x32_answer(plan);  // 0 where the kernel runs x32, else its ENOSYS
  CHECK(with_x32 == (kernel_runs_x32() ? 0 : 38));
  auto dropped = plan;
  dropped.architectures = {"x86_64", "x86"};
  CHECK(x32_answer(dropped) == 1000 + SIGSYS);  // libseccomp's bad-arch default kills
  dropped.bad_arch_errno = ENOSYS;
  CHECK(x32_answer(dropped) == 38);
  CHECK(compile_seccomp(dropped).bpf.size() < compile_seccomp(plan).bpf.size());
  // What drop_unavailable_architectures makes of it depends on the kernel.
  auto planned = plan;
  drop_unavailable_architectures(planned);
  if (kernel_runs_x32()) {
    CHECK(planned.architectures == plan.architectures);
    CHECK(planned.bad_arch_errno == 0);
  } else {
    CHECK(planned.architectures == dropped.architectures);
    CHECK(planned.bad_arch_errno == ENOSYS);
    CHECK(x32_answer(planned) == with_x32);
  }
#endif
}

TEST_CASE("seccomp: a JSON profile from a file") {
  REQUIRE_PROBE();
  util::TempDir dir(fs::temp_directory_path(), "kiln-seccomp-");
  fs::path file = dir.path() / "p.json";
  util::write_all(util::open_file(file, O_WRONLY | O_CREAT),
                  R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]})");
  auto spec = spec_for({"probe", "syscall", "keyctl"});
  spec.seccomp = {SeccompChoice::Mode::profile_file, file.string()};
  CHECK(trimmed(run_capture(spec).out) == "ENOSYS");
  spec.args = {"probe", "syscall", "unshare-user"};
  CHECK(trimmed(run_capture(spec).out) == "ok");
}

TEST_CASE("single-id: chown succeeds as a no-op under seccomp") {
  REQUIRE_PROBE();
  auto spec = spec_for({"probe", "syscall", "chown"});
  spec.single_id = true;
  CHECK(trimmed(run_capture(spec).out) == "ok");
  if (userns::current_map().single_id()) {
    spec.single_id = false;
    CHECK(trimmed(run_capture(spec).out) == "Invalid argument");
  }
}

TEST_CASE("binds: read-only and read-write; tmpfs") {
  REQUIRE_ROOTFS();
  util::TempDir volume(fs::temp_directory_path(), "kiln-volume-");
  auto spec = spec_for({"sh", "-c", "touch /data/x 2>/dev/null; echo $?; touch /rw/y; echo $?; grep -c ' /scratch tmpfs ' /proc/mounts"});
  spec.mounts = {{MountSpec::Type::bind, volume.path().string(), "/data", true, ""},
                 {MountSpec::Type::bind, volume.path().string(), "/rw", false, ""},
                 {MountSpec::Type::tmpfs, "", "/scratch", false, "size=1m,mode=1777"}};
  auto result = run_capture(spec);
  CHECK(trimmed(result.out) == "1\n0\n1");
  CHECK(fs::exists(volume.path() / "y"));
  CHECK_FALSE(fs::exists(volume.path() / "x"));
}

TEST_CASE("hostname, env, cwd") {
  REQUIRE_ROOTFS();
  auto spec = spec_for({"sh", "-c", "hostname; echo $FOO; pwd"});
  spec.hostname = "kilnbox";
  spec.env.push_back("FOO=bar baz");
  spec.cwd = "/srv/new/dir";
  CHECK(trimmed(run_capture(spec).out) == "kilnbox\nbar baz\n/srv/new/dir");
}

TEST_CASE("read-only rootfs, masked and read-only /proc paths, network none") {
  REQUIRE_ROOTFS();
  auto spec = spec_for({"sh", "-c",
                        "touch /x 2>/dev/null; echo $?; touch /tmp/x 2>/dev/null; echo $?; "
                        "cat /proc/keys | wc -c; grep -c ' /proc/sys proc ro,' /proc/mounts; ls /sys/class/net"});
  spec.read_only_rootfs = true;
  spec.mounts = {{MountSpec::Type::tmpfs, "", "/tmp", false, ""}};
  CHECK(trimmed(run_capture(spec).out) == "1\n0\n0\n1\nlo");
  auto lo = run_capture(spec_for({"sh", "-c", "ip link show lo | grep -c UP"}));
  CHECK(trimmed(lo.out) == "1");
}

TEST_CASE("USER: ids, groups, and no effective capabilities for non-root") {
  REQUIRE_PROBE();
  if (!userns::to_host(userns::current_map().uids, 1000)) {
    MESSAGE("skipped: uid 1000 is not mapped in this user namespace");
    return;
  }
  auto spec = spec_for({"probe", "uid"});
  spec.user = resolve_user("app", kPasswd, kGroup);
  CHECK(trimmed(run_capture(spec).out) == "uid=1000 gid=1000 groups=10,50");
  spec.args = {"sh", "-c", "grep -E 'CapEff|CapBnd' /proc/self/status"};
  CHECK(trimmed(run_capture(spec).out) == "CapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb");
}

TEST_CASE("tty: the command gets a terminal whose master kiln holds") {
  REQUIRE_ROOTFS();
  auto spec = spec_for({"sh", "-c", "test -t 0 && test -t 1 && echo tty; ls -l /proc/self/fd/1; test -c /dev/console && echo console"});
  spec.tty = true;
  auto process = start(spec);
  REQUIRE(process.terminal());
  std::string out;
  char buffer[512];
  ssize_t n;
  while ((n = ::read(process.terminal().get(), buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<std::size_t>(n));
  CHECK(process.wait() == 0);
  CHECK(out.starts_with("tty\r\n"));
  CHECK(out.find("/dev/pts/0") != std::string::npos);
  CHECK(out.find("console") != std::string::npos);
}

TEST_CASE("run() forwards SIGTERM to the container and returns its status") {
  REQUIRE_ROOTFS();
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  util::UniqueFd read_end{util::adopt, fds[0]};
  util::UniqueFd write_end{util::adopt, fds[1]};
  auto spec = spec_for({"sh", "-c", "trap 'echo got; exit 7' TERM; echo ready; while :; do sleep 0.1; done"});
  pid_t kiln = ::fork();
  REQUIRE(kiln >= 0);
  if (kiln == 0) {  // plays the kiln process: run() in the foreground with stdout on the pipe
    ::dup2(write_end.get(), STDOUT_FILENO);
    int status = 125;
    try {
      status = run(spec);
    } catch (...) {
    }
    ::_exit(status);
  }
  write_end.reset();
  char buffer[64] = {};
  REQUIRE(::read(read_end.get(), buffer, 6) == 6);
  CHECK(std::string(buffer, 6) == "ready\n");
  ::kill(kiln, SIGTERM);
  int status = 0;
  REQUIRE(::waitpid(kiln, &status, 0) == kiln);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 7);
  CHECK(trimmed(util::read_all(read_end)) == "got");
}

}  // TEST_SUITE
