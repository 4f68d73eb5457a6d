// Reading a container's rw layer as a list of changes: an upper-dir walk for
// overlay and fuse-overlayfs, a tree comparison for vfs.
#include "runtime/diff.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>

#include "layer/whiteout.hpp"
#include "runtime/container_record.hpp"
#include "snapshot/snapshot.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::runtime {
namespace {

using layer::Change;
using layer::ChangeKind;

/// The names in an open directory, sorted bytewise, without "." and "..".
std::vector<std::string> list_dir(util::Fd dir, const std::string& what) {
  int copy = ::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) throw util::sys_error("open {}", what);
  DIR* stream = ::fdopendir(copy);
  if (!stream) {
    ::close(copy);
    throw util::sys_error("fdopendir {}", what);
  }
  std::vector<std::string> names;
  while (auto* entry = ::readdir(stream)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(stream);
  std::sort(names.begin(), names.end());
  return names;
}

/// True when st (found at name in dir) is an overlay whiteout; opens empty regular files
/// to look for the xattr form.
bool whiteout_at(util::Fd dir, const std::string& name, const struct stat& st) {
  if (S_ISCHR(st.st_mode)) return layer::is_overlay_whiteout(st, util::Fd(-1));
  if (!S_ISREG(st.st_mode) || st.st_size != 0) return false;
  int fd = ::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  util::UniqueFd file{util::adopt, fd};
  return layer::is_overlay_whiteout(st, file.borrow());
}

std::string join(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "/" + name;
}

/// The merged view of the lower layers, asked one path at a time.
class LowerView {
public:
  explicit LowerView(const std::vector<std::filesystem::path>& lowers) {
    for (const auto& dir : lowers) roots_.push_back(util::open_file(dir, O_RDONLY | O_DIRECTORY));
  }

  /// The stat of a relative path as the lowers show it, nullopt when hidden or absent.
  std::optional<struct stat> find(const std::string& path) const {
    auto parts = util::split(path, '/');
    for (const auto& root : roots_) {
      util::UniqueFd held;
      util::Fd dir = root.borrow();
      bool opaque = false;
      for (std::size_t i = 0; i < parts.size(); ++i) {
        struct stat st {};
        if (::fstatat(dir.get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
          // Missing here: an opaque directory above hides the layers below too.
          if (opaque) return std::nullopt;
          break;
        }
        if (whiteout_at(dir, parts[i], st)) return std::nullopt;
        if (i + 1 == parts.size()) return st;
        if (!S_ISDIR(st.st_mode)) return std::nullopt;
        int fd = ::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) throw util::sys_error("open {} in a lower layer", path);
        held = util::UniqueFd{util::adopt, fd};
        dir = held.borrow();
        if (layer::is_overlay_opaque(dir)) opaque = true;
      }
    }
    return std::nullopt;
  }

  /// The names the lowers show in a directory (for an opaque directory in the upper).
  std::vector<std::string> names(const std::string& path) const {
    std::set<std::string> candidates;
    for (const auto& root : roots_) {
      int fd = ::openat(root.get(), path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) continue;
      util::UniqueFd dir{util::adopt, fd};
      for (auto& name : list_dir(dir.borrow(), path)) candidates.insert(std::move(name));
    }
    std::vector<std::string> out;
    for (const auto& name : candidates)
      if (find(join(path, name))) out.push_back(name);
    return out;
  }

private:
  std::vector<util::UniqueFd> roots_;
};

class UpperWalk {
public:
  explicit UpperWalk(const LowerView& lowers) : lowers_(lowers) {}

  /// Walks dir (path relative to the upper's root); true when it reported anything.
  bool walk(util::Fd dir, const std::string& path, bool under_new) {
    bool reported = false;
    for (const auto& name : list_dir(dir, path.empty() ? "the upper dir" : path)) {
      if (layer::is_fuse_overlay_marker(name)) continue;
      std::string child = join(path, name);
      struct stat st {};
      if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) throw util::sys_error("stat {}", child);
      if (whiteout_at(dir, name, st)) {
        if (!under_new && lowers_.find(child)) reported |= add(child, ChangeKind::deleted);
        continue;
      }
      // A plain struct plus a flag, not std::optional: GCC 12 reports a false
      // -Wmaybe-uninitialized for an optional<stat> read after the recursive walk.
      struct stat below{};
      bool has_below = false;
      if (!under_new) {
        if (auto found = lowers_.find(child)) {
          below = *found;
          has_below = true;
        }
      }
      if (!has_below && is_runtime_mount_point(child)) continue;
      if (!S_ISDIR(st.st_mode)) {
        reported |= add(child, has_below ? ChangeKind::modified : ChangeKind::added);
        continue;
      }
      int fd = ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) throw util::sys_error("open {}", child);
      util::UniqueFd sub{util::adopt, fd};
      if (!has_below || !S_ISDIR(below.st_mode)) {
        add(child, has_below ? ChangeKind::modified : ChangeKind::added);
        walk(sub.borrow(), child, true);
        reported = true;
        continue;
      }
      bool opaque = layer::is_overlay_opaque(sub.borrow());
      bool inner = walk(sub.borrow(), child, false);
      if (opaque) {
        // Everything the lowers have here and the upper does not is gone.
        auto kept = list_dir(sub.borrow(), child);
        for (const auto& gone : lowers_.names(child))
          if (!std::binary_search(kept.begin(), kept.end(), gone)) inner |= add(join(child, gone), ChangeKind::deleted);
      }
      bool metadata = st.st_mode != below.st_mode || st.st_uid != below.st_uid || st.st_gid != below.st_gid;
      if (inner || opaque || metadata) reported |= add(child, ChangeKind::modified);
    }
    return reported;
  }

  std::vector<Change> take() {
    std::sort(changes_.begin(), changes_.end(),
              [](const Change& a, const Change& b) { return layer::tar_order_less(a.path, b.path); });
    return std::move(changes_);
  }

private:
  bool add(const std::string& path, ChangeKind kind) {
    changes_.push_back({path, kind});
    return true;
  }

  const LowerView& lowers_;
  std::vector<Change> changes_;
};

}  // namespace

std::vector<std::filesystem::path> image_lowers(const store::Store& store, const store::ContainerRecord& record) {
  std::vector<std::filesystem::path> lowers;
  std::optional<util::Digest> chain = record.top_layer;
  while (chain) {
    lowers.push_back(store.layer_dir(*chain));
    chain = store.layer(*chain).parent;
  }
  return lowers;
}

bool is_runtime_mount_point(std::string_view path) {
  for (std::string_view point : {"proc", "sys", "dev", "etc/hosts", "etc/hostname", "etc/resolv.conf"})
    if (path == point || (path.starts_with(point) && path.size() > point.size() && path[point.size()] == '/'))
      return true;
  return false;
}

std::vector<Change> upper_changes(const std::filesystem::path& upper, const std::vector<std::filesystem::path>& lowers) {
  try {
    LowerView view(lowers);
    UpperWalk walk(view);
    auto root = util::open_file(upper, O_RDONLY | O_DIRECTORY);
    walk.walk(root.borrow(), "", false);
    return walk.take();
  } catch (...) {
    util::rethrow_with("compare {} with its lower layers", upper.string());
  }
}

std::vector<Change> container_changes(store::Store& store, const store::ContainerRecord& record) {
  auto config = config_of(record);
  auto paths = container_paths(store, record.id);
  auto lowers = image_lowers(store, record);
  if (config.driver != "vfs") return upper_changes(paths.upper, lowers);
  // vfs: the tree appears at the first start; before that nothing changed.
  if (!std::filesystem::exists(paths.vfs_rootfs)) return {};
  store::StagingDir staging = store.staging_dir("diff");
  snapshot::SnapshotPlan plan;
  plan.lowers = lowers;
  plan.target = staging.path() / "image";
  plan.read_only = true;
  auto copy = snapshot::make_snapshotter("vfs")->mount(plan);
  std::vector<Change> changes;
  for (auto& change : layer::diff_trees(copy.target(), paths.vfs_rootfs))
    if (!(change.kind == ChangeKind::added && is_runtime_mount_point(change.path))) changes.push_back(std::move(change));
  // A directory changed only by a runtime mount point inside it (its mtime) is no change.
  std::set<std::string> parents;
  for (const auto& c : changes)
    for (auto slash = c.path.find('/'); slash != std::string::npos; slash = c.path.find('/', slash + 1))
      parents.insert(c.path.substr(0, slash));
  std::erase_if(changes, [&](const Change& c) {
    if (c.kind != ChangeKind::modified || parents.count(c.path)) return false;
    struct stat a {}, b {};
    if (::lstat((copy.target() / c.path).c_str(), &a) < 0 || ::lstat((paths.vfs_rootfs / c.path).c_str(), &b) < 0)
      return false;
    return S_ISDIR(a.st_mode) && S_ISDIR(b.st_mode) && a.st_mode == b.st_mode && a.st_uid == b.st_uid &&
           a.st_gid == b.st_gid;
  });
  // Docker lists the parents of every change as changed too.
  std::set<std::string> listed;
  for (const auto& c : changes) listed.insert(c.path);
  for (const auto& parent : parents)
    if (!listed.count(parent)) changes.push_back({parent, ChangeKind::modified});
  std::sort(changes.begin(), changes.end(),
            [](const Change& a, const Change& b) { return layer::tar_order_less(a.path, b.path); });
  return changes;
}

std::vector<std::string> diff_lines(const std::vector<Change>& changes) {
  std::vector<std::pair<std::string, char>> rows;
  for (const auto& c : changes)
    rows.emplace_back("/" + c.path, c.kind == ChangeKind::added ? 'A' : c.kind == ChangeKind::deleted ? 'D' : 'C');
  std::sort(rows.begin(), rows.end());
  std::vector<std::string> lines;
  for (const auto& [path, kind] : rows) lines.push_back(fmt::format("{} {}", kind, path));
  return lines;
}

}  // namespace kiln::runtime
