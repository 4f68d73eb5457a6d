// Entering kiln's user + mount namespace, in-process. Before unshare(2) the
// process forks one waiting child per setuid helper (newuidmap, newgidmap); the
// children stay in the host user namespace, which the helpers require. The
// parent unshares, tells the children to go, and they write its maps while it
// waits. Then the parent simply continues as "root" of the new namespace: no
// re-exec. Measured against clone + newuidmap/newgidmap + re-exec of kiln, both
// cost the same two setuid helper runs, and re-exec adds a second start of kiln
// (about as much as `kiln version`), so in-process is the faster of the two.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "userns/holder.hpp"
#include "userns/userns.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::userns {
namespace {

bool g_inside = false;

// "user:[4026531837] mnt:[4026531841]": identifies the namespaces this process is in,
// so an inherited kInsideEnv is trusted only by processes that really share them.
std::string namespace_id() {
  auto link = [](const char* path) {
    std::array<char, 64> buffer{};
    ssize_t n = ::readlink(path, buffer.data(), buffer.size() - 1);
    return n > 0 ? std::string(buffer.data(), static_cast<size_t>(n)) : std::string("?");
  };
  return link("/proc/self/ns/user") + " " + link("/proc/self/ns/mnt");
}

std::pair<util::UniqueFd, util::UniqueFd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) throw util::sys_error("pipe2");
  return {util::UniqueFd{util::adopt, fds[0]}, util::UniqueFd{util::adopt, fds[1]}};
}

// A helper child forked before unshare: blocks until the parent writes one byte to
// the go pipe (EOF means "never mind"), then execs the helper with stderr on the
// error pipe. Reaped by the destructor if nobody waited.
class HelperChild {
public:
  HelperChild(const std::string& path, const std::vector<std::string>& args, util::Fd go, util::Fd go_writer,
              util::Fd err) {
    // Everything the child touches is built before fork.
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw util::sys_error("fork for {}", path);
    if (pid_ == 0) {
      ::close(go_writer.get());
      char byte = 0;
      if (::read(go.get(), &byte, 1) != 1) ::_exit(0);
      ::dup2(err.get(), STDERR_FILENO);
      ::execv(path.c_str(), argv.data());
      const char* msg = "exec failed\n";
      [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, std::strlen(msg));
      ::_exit(127);
    }
  }
  HelperChild(const HelperChild&) = delete;
  HelperChild& operator=(const HelperChild&) = delete;
  ~HelperChild() {
    // Only on an error path: the child may still be waiting for its go byte.
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }

  /// Waits for the child; returns its wait status.
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

private:
  pid_t pid_ = -1;
};

[[noreturn]] void throw_unshare_error(int code) {
  std::string hint;
  if (code == EPERM || code == EACCES)
    hint = " (unprivileged user namespaces are disabled: enable them with sysctl "
           "kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0)";
  else if (code == ENOSPC || code == EUSERS)
    hint = " (too many user namespaces: raise sysctl user.max_user_namespaces)";
  throw Error(fmt::format("unshare user namespace: {}{}", std::strerror(code), hint));
}

// unshare with the helpers writing our maps.
void unshare_with_helpers(const EntryPlan& plan) {
  pid_t self = ::getpid();
  auto uid_args = map_helper_args("newuidmap", self, plan.map.uids);
  auto gid_args = map_helper_args("newgidmap", self, plan.map.gids);
  std::string uid_path = find_program("newuidmap");
  std::string gid_path = find_program("newgidmap");
  auto [go_read, go_write] = make_pipe();
  auto [err_read, err_write] = make_pipe();
  HelperChild uid_helper(uid_path, uid_args, go_read, go_write, err_write);
  HelperChild gid_helper(gid_path, gid_args, go_read, go_write, err_write);
  go_read.reset();
  err_write.reset();

  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
    int code = errno;
    go_write.reset();  // the helpers see EOF and exit quietly
    throw_unshare_error(code);
  }
  // Both helpers run at once: two setuid execs are most of the cost of entering.
  util::write_all(go_write, "gg");
  go_write.reset();
  int uid_status = uid_helper.wait();
  int gid_status = gid_helper.wait();
  if (uid_status != 0 || gid_status != 0) {
    std::string output(util::trim(util::read_all(err_read)));
    const auto& args = uid_status != 0 ? uid_args : gid_args;
    std::string command;
    for (const auto& a : args) command += (command.empty() ? "" : " ") + a;
    fail("set up the id map with {}: {}", command,
         output.empty() ? std::string("it failed without saying why") : output);
  }
}

// unshare and write a one-id map ourselves: no helper needed, but no other ids.
void unshare_single_id(const IdMap& map) {
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) throw_unshare_error(errno);
  // setgroups must be denied before an unprivileged process may write gid_map.
  util::write_all(util::open_file("/proc/self/setgroups", O_WRONLY), "deny");
  util::write_all(util::open_file("/proc/self/uid_map", O_WRONLY),
                  fmt::format("0 {} 1\n", map.uids.at(0).host_id));
  util::write_all(util::open_file("/proc/self/gid_map", O_WRONLY),
                  fmt::format("0 {} 1\n", map.gids.at(0).host_id));
}

// Mount events must not leak back to the host (nor host ones in mid-operation).
void make_mounts_private() {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
    throw util::sys_error("make / a private mount (mount --make-rprivate /)");
}

}  // namespace

bool inside() {
  if (g_inside) return true;
  const char* mark = std::getenv(kInsideEnv);
  return mark && *mark && mark == namespace_id();
}

void enter(const EnterOptions& options) {
  if (inside()) return;
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  if (uid == 0) {
    // root (or already "root" of some namespace): a private mount namespace is enough.
    if (::unshare(CLONE_NEWNS) < 0) throw util::sys_error("unshare mount namespace");
  } else {
    EntryPlan plan = plan_entry_for(uid, gid);
    if (!plan.warning.empty()) util::warn_once(plan.warning);
    if (plan.use_helpers) {
      // A held namespace costs a setns; a new one two setuid helper runs.
      if (options.holder_dir.empty() || !join_or_start_holder(options.holder_dir, plan)) unshare_with_helpers(plan);
    } else
      unshare_single_id(plan.map);
    // The map makes us 0 already; be explicit in case the kernel left saved ids behind.
    if (::getuid() != 0 || ::getgid() != 0) {
      if (::setresgid(0, 0, 0) < 0) throw util::sys_error("setresgid 0 in the user namespace");
      if (::setresuid(0, 0, 0) < 0) throw util::sys_error("setresuid 0 in the user namespace");
    }
  }
  make_mounts_private();
  g_inside = true;
  ::setenv(kInsideEnv, namespace_id().c_str(), 1);
}

}  // namespace kiln::userns
