// The user-namespace holder (see holder.hpp): record parsing and matching (pure),
// then joining, starting and stopping it. The holder is double-forked and in a
// session of its own, so it is nobody's child and no terminal's; it closes every
// descriptor, leaves the host's mount namespace untouched, ignores the terminal
// signals and pauses until it is killed.
#include "userns/holder.hpp"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

extern char** environ;

namespace kiln::userns {
namespace {

constexpr const char* kRecordName = "userns-holder";

std::optional<std::uint64_t> to_number(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

/// Field 22 (start time in clock ticks) of /proc/<pid>/stat; nullopt when gone.
std::optional<std::uint64_t> start_time_of(pid_t pid) {
  auto text = util::try_read_file(fmt::format("/proc/{}/stat", pid));
  if (!text) return std::nullopt;
  auto close = text->rfind(')');
  if (close == std::string::npos || close + 2 > text->size()) return std::nullopt;
  auto fields = util::split(std::string_view(*text).substr(close + 2), ' ');
  if (fields.size() < 20) return std::nullopt;
  return to_number(fields[19]);
}

/// The holder's namespace, opened, and what it looks like; nullopt when unusable.
struct Candidate {
  util::UniqueFd ns;
  HolderObservation seen;
};

std::optional<Candidate> observe(pid_t pid) {
  std::string ns_path = fmt::format("/proc/{}/ns/user", pid);
  Candidate c;
  c.ns = util::UniqueFd{util::adopt, ::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (!c.ns) return std::nullopt;
  struct stat st {};
  if (::fstat(c.ns.get(), &st) < 0) return std::nullopt;
  c.seen.userns_inode = st.st_ino;
  uid_t owner = 0;
  if (::ioctl(c.ns.get(), NS_GET_OWNER_UID, &owner) < 0) return std::nullopt;
  c.seen.owner_uid = owner;
  auto uid_map = util::try_read_file(fmt::format("/proc/{}/uid_map", pid));
  auto gid_map = util::try_read_file(fmt::format("/proc/{}/gid_map", pid));
  auto start = start_time_of(pid);
  if (!uid_map || !gid_map || !start) return std::nullopt;
  c.seen.map.uids = parse_id_map(*uid_map);
  c.seen.map.gids = parse_id_map(*gid_map);
  c.seen.start_time = *start;
  // The pid may have been reused while we read: the namespace must still be the one we hold.
  struct stat again {};
  if (::stat(ns_path.c_str(), &again) < 0 || again.st_ino != st.st_ino || again.st_dev != st.st_dev)
    return std::nullopt;
  return c;
}

std::optional<HolderRecord> read_record(const std::filesystem::path& dir) {
  auto text = util::try_read_file(holder_record_path(dir));
  return text ? parse_holder_record(*text) : std::nullopt;
}

/// The recorded holder's namespace if it is ours and has the planned map.
util::UniqueFd matching_holder(const std::filesystem::path& dir, const IdMap& planned) {
  auto record = read_record(dir);
  if (!record) return {};
  auto candidate = observe(record->pid);
  if (!candidate || !holder_matches(*record, candidate->seen, ::getuid(), planned)) return {};
  return std::move(candidate->ns);
}

/// setns into the holder's user namespace, then a private mount namespace of our own.
bool join(util::UniqueFd ns) {
  if (::setns(ns.get(), CLONE_NEWUSER) < 0) {
    util::debug("join the user namespace holder: {}", std::strerror(errno));
    return false;
  }
  if (::unshare(CLONE_NEWNS) < 0) throw util::sys_error("unshare mount namespace in the held user namespace");
  return true;
}

[[noreturn]] void holder_main(int report_fd) noexcept {
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE}) ::signal(sig, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int error = ::unshare(CLONE_NEWUSER) < 0 ? errno : 0;
  std::string message = error ? fmt::format("E{}", error) : fmt::format("P{}", ::getpid());
  (void)!::write(report_fd, message.data(), message.size());
  if (error) ::_exit(1);
  // Nothing of kiln's stays open or pinned: no descriptors, no working directory.
  if (::chdir("/") < 0) ::_exit(1);
  int null = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3 && null >= 0; ++fd) ::dup2(null, fd);
  ::syscall(SYS_close_range, 3u, ~0u, 0u);
  ::prctl(PR_SET_NAME, "kiln-userns", 0, 0, 0);
  for (;;) ::pause();
}

/// Forks the holder (double fork, own session); returns its pid once it is in its new
/// user namespace. Throws.
pid_t fork_holder() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) throw util::sys_error("pipe2");
  util::UniqueFd read_end{util::adopt, fds[0]}, write_end{util::adopt, fds[1]};
  pid_t middle = ::fork();
  if (middle < 0) throw util::sys_error("fork the user namespace holder");
  if (middle == 0) {
    ::setsid();
    pid_t holder = ::fork();
    if (holder == 0) holder_main(write_end.get());
    ::_exit(holder < 0 ? 1 : 0);
  }
  write_end.reset();
  int status = 0;
  while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  std::string message = util::read_all(read_end);
  if (message.size() < 2) fail("start the user namespace holder: it exited without a word");
  auto number = to_number(std::string_view(message).substr(1));
  if (!number) fail("start the user namespace holder: unexpected message \"{}\"", message);
  if (message[0] == 'E') throw util::sys_error_code(static_cast<int>(*number), "unshare user namespace for the holder");
  return static_cast<pid_t>(*number);
}

/// Runs newuidmap and newgidmap for `target` at once; throws with their output on failure.
void map_with_helpers(pid_t target, const IdMap& map) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) throw util::sys_error("pipe2");
  util::UniqueFd err_read{util::adopt, fds[0]}, err_write{util::adopt, fds[1]};
  std::vector<std::vector<std::string>> commands{map_helper_args("newuidmap", target, map.uids),
                                                 map_helper_args("newgidmap", target, map.gids)};
  std::vector<pid_t> pids;
  for (const auto& args : commands) {
    std::string path = find_program(args[0]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc == 0) pids.push_back(pid);
  }
  err_write.reset();
  bool ok = pids.size() == commands.size();
  for (pid_t pid : pids) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  if (!ok) {
    std::string output(util::trim(util::read_all(err_read)));
    fail("set up the id map of the user namespace holder: {}",
         output.empty() ? std::string("newuidmap/newgidmap failed without saying why") : output);
  }
}

void kill_if_ours(const std::filesystem::path& dir) {
  auto record = read_record(dir);
  if (!record) return;
  auto candidate = observe(record->pid);
  if (candidate && candidate->seen.start_time == record->start_time &&
      candidate->seen.userns_inode == record->userns_inode && candidate->seen.owner_uid == ::getuid())
    ::kill(record->pid, SIGKILL);
}

}  // namespace

std::string format_holder_record(const HolderRecord& record) {
  return fmt::format("pid {}\nstart {}\nuserns {}\n", record.pid, record.start_time, record.userns_inode);
}

std::optional<HolderRecord> parse_holder_record(std::string_view text) {
  auto lines = util::split(util::trim(text), '\n');
  if (lines.size() != 3) return std::nullopt;
  std::uint64_t values[3] = {};
  const char* keys[3] = {"pid ", "start ", "userns "};
  for (int i = 0; i < 3; ++i) {
    std::string_view line = lines[static_cast<std::size_t>(i)];
    if (!line.starts_with(keys[i])) return std::nullopt;
    auto value = to_number(line.substr(std::strlen(keys[i])));
    if (!value || *value == 0) return std::nullopt;
    values[i] = *value;
  }
  if (values[0] > static_cast<std::uint64_t>(INT32_MAX)) return std::nullopt;
  return HolderRecord{static_cast<pid_t>(values[0]), values[1], values[2]};
}

bool holder_matches(const HolderRecord& record, const HolderObservation& seen, uid_t uid, const IdMap& planned) {
  return seen.start_time == record.start_time && seen.userns_inode == record.userns_inode && seen.owner_uid == uid &&
         seen.map.uids == planned.uids && seen.map.gids == planned.gids;
}

std::filesystem::path holder_record_path(const std::filesystem::path& dir) { return dir / kRecordName; }

namespace {

/// The namespace of a matching holder, started if need be; empty when none can be had.
util::UniqueFd holder_namespace(const std::filesystem::path& dir, const EntryPlan& plan) {
  // The common case: a live holder with our map. No lock needed: the record is checked
  // against the process it names.
  if (auto ns = matching_holder(dir, plan.map)) return ns;
  try {
    util::make_dirs(dir, 0700);
    // One starter at a time; the others find its holder once the lock is theirs.
    util::UniqueFd lock_fd = util::open_file(dir / "userns-holder.lock", O_RDWR | O_CREAT, 0600);
    while (::flock(lock_fd.get(), LOCK_EX) < 0)
      if (errno != EINTR) throw util::sys_error("lock {}", (dir / "userns-holder.lock").string());
    if (auto ns = matching_holder(dir, plan.map)) return ns;
    kill_if_ours(dir);  // a holder with another map (the subuid files changed)
    pid_t holder = fork_holder();
    try {
      map_with_helpers(holder, plan.map);
    } catch (...) {
      ::kill(holder, SIGKILL);
      throw;
    }
    auto candidate = observe(holder);
    if (!candidate) fail("the user namespace holder {} went away", holder);
    HolderRecord record{holder, candidate->seen.start_time, candidate->seen.userns_inode};
    if (!holder_matches(record, candidate->seen, ::getuid(), plan.map)) {
      ::kill(holder, SIGKILL);
      fail("the user namespace holder's map is not the planned one");
    }
    util::write_file_replace(holder_record_path(dir), format_holder_record(record), 0600);
    return std::move(candidate->ns);
  } catch (const std::exception& e) {
    // Not fatal: the caller enters a namespace of its own, as without a holder.
    util::debug("user namespace holder in {}: {}", dir.string(), util::describe(e));
    return {};
  }
}

}  // namespace

bool join_or_start_holder(const std::filesystem::path& dir, const EntryPlan& plan) {
  util::UniqueFd ns = holder_namespace(dir, plan);
  return ns && join(std::move(ns));
}

bool stop_holder(const std::filesystem::path& dir) {
  auto record = read_record(dir);
  bool stopped = false;
  if (record) {
    auto candidate = observe(record->pid);
    if (candidate && candidate->seen.start_time == record->start_time &&
        candidate->seen.userns_inode == record->userns_inode && candidate->seen.owner_uid == ::getuid()) {
      stopped = ::kill(record->pid, SIGKILL) == 0;
    }
  }
  std::error_code ec;
  std::filesystem::remove(holder_record_path(dir), ec);
  return stopped;
}

}  // namespace kiln::userns
