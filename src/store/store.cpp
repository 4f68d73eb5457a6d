// Store: opening (layout, format version), the reentrant store lock, object
// locks, staging and the small files (driver). Blobs, layers, images,
// containers and check live in their own files.
#include "store/store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

#include "store/failpoint.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::store {

// The store lock file held by this Store object, with a depth so nested holds
// (a caller's write_lock() around add_image(), which locks again) reuse it.
struct Store::Lock::State {
  fs::path path;
  util::FileLock lock;
  util::FileLock::Mode mode = util::FileLock::Mode::shared;
  int depth = 0;
  bool swept = false;
};

Store::Lock::~Lock() {
  if (state_ && --state_->depth == 0) state_->lock.unlock();
}

fs::path default_root(uid_t uid, const char* xdg_data_home, const char* home) {
  if (uid == 0) return "/var/lib/kiln";
  // XDG: a relative XDG_DATA_HOME is invalid and must be ignored.
  if (xdg_data_home && xdg_data_home[0] == '/') return fs::path(xdg_data_home) / "kiln";
  if (home && home[0] == '/') return fs::path(home) / ".local/share/kiln";
  fail(ErrorKind::invalid_input, "cannot place the store: neither XDG_DATA_HOME nor HOME is set");
}

Store::Store(fs::path root) : root_(std::move(root)), lock_state_(std::make_unique<Lock::State>()) {
  lock_state_->path = root_ / "store.lock";
}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

Store Store::open(const fs::path& root) {
  try {
    bool fresh = !fs::exists(root);
    util::make_dirs(root, 0700);
    if (fresh) ::chmod(root.c_str(), 0700);
    for (const char* sub : {"blobs/sha256", "layers", "images", "containers", "cache", "tmp", "locks"})
      util::make_dirs(root / sub, 0700);
    Store store{fs::absolute(root).lexically_normal()};
    auto version_file = root / "version";
    if (auto text = util::try_read_file(version_file)) {
      auto version = std::string(util::trim(*text));
      if (version != std::to_string(kFormatVersion))
        fail("store format version {} is not supported (this kiln reads version {})", version,
             kFormatVersion);
    } else {
      store.publish_file(version_file, fmt::format("{}\n", kFormatVersion));
    }
    return store;
  } catch (...) {
    util::rethrow_with("open store {}", root.string());
  }
}

Store::Lock Store::read_lock() const {
  auto* state = lock_state_.get();
  if (state->depth == 0) {
    state->lock = util::FileLock(state->path, util::FileLock::Mode::shared);
    state->mode = util::FileLock::Mode::shared;
  }
  ++state->depth;
  return Lock(state);
}

Store::Lock Store::write_lock() {
  auto* state = lock_state_.get();
  if (state->depth > 0 && state->mode != util::FileLock::Mode::exclusive)
    throw std::logic_error("store: write lock requested while holding the read lock");
  if (!state->swept) {
    // Before the first commit of this process: the next writer cleans up after crashed ones.
    // Outside the store lock: staging entries carry their own locks.
    state->swept = true;
    sweep();
  }
  if (state->depth == 0) {
    state->lock = util::FileLock(state->path, util::FileLock::Mode::exclusive);
    state->mode = util::FileLock::Mode::exclusive;
  }
  ++state->depth;
  return Lock(state);
}

util::FileLock Store::object_lock(std::string_view key) {
  bool ok = !key.empty() && key.size() < 200;
  for (char c : key)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.');
  if (!ok || key[0] == '.') fail(ErrorKind::invalid_input, "object lock: bad key \"{}\"", key);
  return util::FileLock(root_ / "locks" / fmt::format("{}.lock", key), util::FileLock::Mode::exclusive);
}

StagingDir Store::staging_dir(std::string_view prefix) { return StagingDir(tmp_dir(), prefix); }

std::vector<fs::path> Store::sweep() { return sweep_staging(tmp_dir()); }

void Store::publish_file(const fs::path& target, std::string_view data, bool durable) {
  if (!durable) {
    // No staging directory either (two directory blocks less to allocate and free): a
    // temporary beside the target, renamed over it; a crash leaves at most that
    // temporary in a record's directory that is going away anyway.
    failpoint("file-before-rename");
    util::write_file_replace(target, data, 0600);
    return;
  }
  StagingDir entry = staging_dir("file");
  fs::path staged = entry.path() / "data";
  {
    auto fd = util::open_file(staged, O_WRONLY | O_CREAT | O_EXCL, 0600);
    util::write_all(fd, data);
    if (::fsync(fd.get()) < 0) throw util::sys_error("fsync {}", staged.string());
  }
  failpoint("file-before-rename");
  util::rename_durable(staged, target);
}

void Store::unpublish(const fs::path& path, std::vector<StagingDir>& graves, bool durable) {
  // The entry stays locked by us while we (later, outside the store lock) delete it;
  // should we die first, the next sweep finds it unlocked with a dead owner.
  graves.push_back(staging_dir("remove"));
  fs::path grave = graves.back().path() / "object";
  if (::rename(path.c_str(), grave.c_str()) < 0) {
    if (errno == ENOENT) return;
    throw util::sys_error("rename {} to {}", path.string(), grave.string());
  }
  if (durable) util::fsync_path(path.parent_path());
  failpoint("unpublished");
}

std::optional<std::string> Store::driver() const {
  auto text = util::try_read_file(root_ / "driver");
  if (!text) return std::nullopt;
  auto name = std::string(util::trim(*text));
  if (name.empty()) return std::nullopt;
  return name;
}

void Store::set_driver(std::string_view name) {
  if (name.empty() || name.find_first_of("/\n") != std::string_view::npos)
    fail(ErrorKind::invalid_input, "storage driver name \"{}\" is not valid", name);
  auto lock = write_lock();
  publish_file(root_ / "driver", fmt::format("{}\n", name));
}

}  // namespace kiln::store
