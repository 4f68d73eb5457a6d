// Mounting a container's rootfs, building the spec for one start, and removing
// a container with its anonymous volumes.
#include "runtime/lifecycle.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "runtime/user.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kiln::runtime {
namespace {

// A file of the image read beneath its root: a symlink in the image cannot point at a
// host file. Empty when absent.
std::string read_in_root(const fs::path& rootfs, const std::string& path) {
  util::UniqueFd root = util::open_file(rootfs, O_PATH | O_DIRECTORY);
  struct open_how how {};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root.get(), path.c_str(), &how, sizeof how);
  if (fd < 0) return {};
  util::UniqueFd file{util::adopt, static_cast<int>(fd)};
  return util::read_all(file);
}

std::string hosts_file(const std::string& hostname) {
  return fmt::format(
      "127.0.0.1\tlocalhost localhost.localdomain\n"
      "::1\tlocalhost localhost.localdomain ip6-localhost ip6-loopback\n"
      "127.0.1.1\t{}\n",
      hostname);
}

// The image's /etc beneath rootfs, reached without following any symlink; invalid when
// there is none such.
util::UniqueFd open_etc_in_root(const fs::path& rootfs) {
  util::UniqueFd root = util::open_file(rootfs, O_PATH | O_DIRECTORY);
  struct open_how how {};
  how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
  return util::UniqueFd{util::adopt, static_cast<int>(::syscall(SYS_openat2, root.get(), "etc", &how, sizeof how))};
}

// Writes a generated /etc file straight into a --rm container's root file system, in
// place of a bind mount of a copy kept beside the record: three files, their renames and
// three mounts fewer per run. Only where that is plain: the file absent or a regular file
// (never through a symlink: O_NOFOLLOW). False when the bind mount must do.
bool write_into_etc(util::Fd etc_dir, const char* name, const std::string& text) {
  int fd = ::openat(etc_dir.get(), name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) return false;  // a symlink (ELOOP), a directory, no permission...
  util::UniqueFd file{util::adopt, fd};
  struct stat st {};
  if (::fstat(file.get(), &st) < 0 || !S_ISREG(st.st_mode)) return false;
  util::write_all(file, text);
  return true;
}

// Writes a generated file only when its content changed: starts stay cheap. No fsync:
// every start makes these files again, so a power loss cannot leave a stale one in use.
void write_if_changed(const fs::path& path, const std::string& text) {
  if (auto current = util::try_read_file(path); current && *current == text) return;
  util::write_file_replace(path, text, 0644);
}

}  // namespace

fs::path volume_dir(const store::Store& store, std::string_view name) {
  return store.root() / "volumes" / std::string(name) / "_data";
}

snapshot::MountedSnapshot mount_container(const store::Store& store, const store::ContainerRecord& record,
                                          const ContainerConfig& config) {
  try {
    auto paths = container_paths(store, record.id);
    snapshot::SnapshotPlan plan;
    if (record.top_layer) {
      // Walk from the top layer down through the parents: lowers are top-most first.
      std::optional<util::Digest> chain = record.top_layer;
      while (chain) {
        plan.lowers.push_back(store.layer_dir(*chain));
        chain = store.layer(*chain).parent;
      }
    }
    plan.upper = paths.upper;
    plan.work = paths.work;
    plan.target = paths.rootfs(config.driver);
    plan.links_dir = store.root() / "l";
    // A --rm container's upper is deleted after its one run: nothing there needs syncing.
    plan.volatile_upper = config.auto_remove;
    return snapshot::make_snapshotter(config.driver)->mount(plan);
  } catch (...) {
    util::rethrow_with("mount the root file system of {}", record.name);
  }
}

ContainerSpec start_spec(const store::Store& store, const store::ContainerRecord& record,
                         const ContainerConfig& config, const fs::path& rootfs) {
  ContainerSpec spec = config.spec;
  spec.rootfs = rootfs.string();
  spec.user = resolve_user(config.user, read_in_root(rootfs, "/etc/passwd"), read_in_root(rootfs, "/etc/group"));

  // Generated /etc files first, so the user's own -v over them wins (mounted later).
  auto paths = container_paths(store, record.id);
  std::string resolv = util::try_read_file("/etc/resolv.conf").value_or("");
  if (spec.network == NetworkMode::none) resolv.clear();
  const std::pair<const char*, std::string> generated[] = {
      {"hostname", spec.hostname + "\n"}, {"hosts", hosts_file(spec.hostname)}, {"resolv.conf", resolv}};
  auto covered = [&](const std::string& dst) {
    return std::any_of(config.volumes.begin(), config.volumes.end(), [&](const auto& v) { return v.destination == dst; });
  };
  // A --rm container's root file system goes with it: the files can be written there
  // (kiln diff leaves these paths out either way). A kept one gets bind mounts of
  // copies beside its record, so commit and export do not take them.
  util::UniqueFd etc_dir;
  if (config.auto_remove && !spec.read_only_rootfs) etc_dir = open_etc_in_root(rootfs);
  for (const auto& [name, text] : generated) {
    std::string dst = std::string("/etc/") + name;
    if (covered(dst)) continue;
    if (etc_dir && write_into_etc(etc_dir.borrow(), name, text)) continue;
    write_if_changed(paths.dir / name, text);
    spec.mounts.push_back({MountSpec::Type::bind, (paths.dir / name).string(), dst, false, ""});
  }

  for (const auto& v : config.volumes) {
    MountSpec m;
    m.destination = v.destination;
    m.read_only = v.read_only;
    switch (v.kind) {
      case VolumeConfig::Kind::tmpfs:
        m.type = MountSpec::Type::tmpfs;
        m.options = v.options;
        break;
      case VolumeConfig::Kind::named:
      case VolumeConfig::Kind::anonymous:
        m.source = volume_dir(store, v.source).string();
        m.populate = !fs::exists(m.source);
        util::make_dirs(m.source, 0755);
        break;
      case VolumeConfig::Kind::bind:
        m.source = v.source;
        if (!fs::exists(m.source))
          fail(ErrorKind::invalid_input, "bind mount source {}: no such file or directory", v.source);
        break;
    }
    spec.mounts.push_back(std::move(m));
  }
  return spec;
}

void remove_container(store::Store& store, const store::ContainerRecord& record, bool remove_volumes,
                      bool in_background) {
  auto config = config_of(record);
  // A --rm container's record was never durable; its removal need not be either.
  store.remove_container(record.id, !config.auto_remove, in_background);
  if (!remove_volumes) return;
  for (const auto& v : config.volumes)
    if (v.kind == VolumeConfig::Kind::anonymous) util::remove_tree(volume_dir(store, v.source).parent_path());
}

store::ContainerRecord reconciled(store::Store& store, std::string_view name_or_id) {
  auto record = reconcile(store, store.container(name_or_id));
  if (!record) fail(ErrorKind::not_found, "no such container: {}", name_or_id);
  return std::move(*record);
}

std::vector<store::ContainerRecord> reconcile_all(store::Store& store) {
  std::vector<store::ContainerRecord> out;
  for (auto& record : store.list_containers())
    if (auto fresh = reconcile(store, std::move(record))) out.push_back(std::move(*fresh));
  return out;
}

}  // namespace kiln::runtime
