// Staging directories and the sweep of dead writers' leftovers.
#include "store/staging.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "util/error.hpp"
#include "util/log.hpp"

namespace kiln::store {

namespace {

// Locks an entry (file or directory) without creating anything: flock needs only
// a read-only descriptor. Empty when the entry vanished or is locked by someone.
util::UniqueFd try_lock_entry(const fs::path& path, bool block) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return {};
  util::UniqueFd owned(util::adopt, fd);
  int op = LOCK_EX | (block ? 0 : LOCK_NB);
  while (::flock(owned.get(), op) < 0) {
    if (errno == EINTR) continue;
    return {};
  }
  return owned;
}

bool process_alive(int pid) noexcept {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace

StagingDir::StagingDir(const fs::path& tmp_dir, std::string_view prefix)
    : dir_(tmp_dir, fmt::format("{}-{}-", prefix, ::getpid())) {
  // Between mkdtemp and this flock the entry is unlocked, but its pid is alive,
  // which is why the sweep checks both.
  lock_ = try_lock_entry(dir_.path(), true);
  if (!lock_) throw util::sys_error("lock staging directory {}", dir_.path().string());
}

void remove_in_background(std::vector<StagingDir>& entries) noexcept {
  if (entries.empty()) return;
  pid_t pid = ::fork();
  if (pid < 0) {
    entries.clear();
    return;
  }
  if (pid == 0) {
    // Off the terminal's process group (a ^C after kiln returned is not for us) and off
    // the caller's output: $(kiln run --rm ...) must not wait for this child.
    ::setsid();
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0)
      for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
    std::vector<int> locks;
    for (const auto& entry : entries) locks.push_back(entry.lock_fd());
    std::sort(locks.begin(), locks.end());
    unsigned from = 3;
    for (int fd : locks) {
      if (fd < 3) continue;
      if (static_cast<unsigned>(fd) > from) ::syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0);
      from = static_cast<unsigned>(fd) + 1;
    }
    ::syscall(SYS_close_range, from, ~0U, 0);
    entries.clear();
    ::_exit(0);
  }
  for (auto& entry : entries) entry.keep();
  entries.clear();  // closes our copies of the locks; the child's hold them
}

int staging_owner_pid(std::string_view name) noexcept {
  // <prefix>-<pid>-XXXXXX: mkdtemp's suffix has no '-', the prefix may.
  auto last = name.rfind('-');
  if (last == std::string_view::npos || last == 0) return 0;
  auto before = name.rfind('-', last - 1);
  if (before == std::string_view::npos) return 0;
  int pid = 0;
  auto digits = name.substr(before + 1, last - before - 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return 0;
  return pid;
}

std::vector<fs::path> sweep_staging(const fs::path& tmp_dir, std::chrono::seconds grace) {
  std::vector<fs::path> removed;
  std::error_code ec;
  auto now = std::chrono::system_clock::now();
  for (fs::directory_iterator it(tmp_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& entry = it->path();
    struct stat st;
    if (::lstat(entry.c_str(), &st) < 0) continue;
    auto lock = try_lock_entry(entry, false);
    // A symlink or fifo cannot be opened/locked this way; those are never ours to keep.
    bool lockable = S_ISDIR(st.st_mode) || S_ISREG(st.st_mode);
    if (lockable && !lock) continue;  // a live writer holds it
    auto age = now - std::chrono::system_clock::from_time_t(st.st_mtime);
    if (process_alive(staging_owner_pid(entry.filename().string())) && age < grace) continue;
    try {
      util::remove_tree_or_throw(entry);
      removed.push_back(entry);
    } catch (const std::exception& e) {
      util::warn("sweep {}: {}", entry.string(), util::describe(e));
    }
  }
  return removed;
}

}  // namespace kiln::store
