// Layer extraction, entry by entry. Rules (as Docker / containers/storage do,
// noted where kiln differs):
// - Names are cleaned lexically; a leading "/" is stripped (Docker treats absolute
//   names as relative to the root); a name whose ".." climbs above the root rejects
//   the whole layer, as Docker's "breakout" check does.
// - Parents are looked up with RESOLVE_IN_ROOT: symlinks planted by earlier entries
//   or lower layers are followed as inside a chroot, so "a -> /etc" then "a/x"
//   writes target/etc/x, never the host's /etc. Missing parents are created 0755.
// - The last component is never followed: whatever exists there is replaced (a
//   directory over a directory is kept and its metadata updated).
// - A hardlink's target is resolved the same way beneath the root; one that climbs
//   out, is missing or is a directory rejects the layer.
// - Devices and fifos need privilege: EPERM skips the entry with a debug line.
// - Ownership failing with EINVAL/EPERM (id not mapped) keeps the caller's ids.
// - xattrs: user.* set; security.capability and others tried, errors ignored;
//   trusted.* and any overlay.* metadata dropped (it must come from whiteout entries,
//   not from a tarball that could plant redirects).
#include "layer/apply.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "layer/safe_path.hpp"
#include "layer/tar_input.hpp"
#include "layer/whiteout.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kiln::layer {

namespace {

struct DirFixup {
  std::string path;
  mode_t mode;
  struct timespec times[2];
};

class Applier {
public:
  Applier(util::Fd root, struct archive* tar, const ApplyOptions& options, ApplyResult& result)
      : root_(root), tar_(tar), options_(options), result_(result) {}

  void apply(struct archive_entry* entry);
  void fix_directories();

private:
  void apply_whiteout(const std::string& parent, const std::string& base);
  void prune_opaque(util::Fd dir, const std::string& prefix);
  void write_regular(util::Fd parent, const std::string& base, struct archive_entry* entry);
  void link_hard(util::Fd parent, const std::string& base, const char* target);
  void set_owner(util::Fd parent, const std::string& base, struct archive_entry* entry);
  void set_xattrs(int fd, struct archive_entry* entry);
  util::UniqueFd open_existing_dir(const std::string& clean);

  util::Fd root_;
  struct archive* tar_;
  const ApplyOptions& options_;
  ApplyResult& result_;
  std::unordered_set<std::string> unpacked_;
  std::vector<DirFixup> dirs_;
};

void entry_times(struct archive_entry* entry, struct timespec times[2]) {
  times[1] = {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)};
  times[0] = archive_entry_atime_is_set(entry)
                 ? timespec{archive_entry_atime(entry), archive_entry_atime_nsec(entry)}
                 : times[1];
}

void Applier::apply(struct archive_entry* entry) {
  const char* raw_name = archive_entry_pathname(entry);
  if (!raw_name) fail(ErrorKind::invalid_input, "entry without a name");
  auto clean = clean_entry_path(raw_name);
  if (!clean) fail(ErrorKind::invalid_input, "path escapes the layer");
  const char* hardlink = archive_entry_hardlink(entry);
  mode_t type = archive_entry_filetype(entry);
  auto [parent, base] = split_parent(*clean);

  if (base.starts_with(kWhiteoutPrefix)) return apply_whiteout(parent, base);

  if (clean->empty()) {
    // "./" describes the root itself: only its metadata can change.
    if (type != AE_IFDIR || hardlink) fail(ErrorKind::invalid_input, "entry would replace the layer root");
    set_owner(root_, ".", entry);
    DirFixup fix{"", static_cast<mode_t>(archive_entry_perm(entry)), {}};
    entry_times(entry, fix.times);
    dirs_.push_back(fix);
    return;
  }

  auto parent_fd = make_dirs_in_root(root_, parent);
  struct stat st;
  bool keep_dir = false;
  if (exists_at(parent_fd, base, &st)) {
    keep_dir = S_ISDIR(st.st_mode) && type == AE_IFDIR && !hardlink;
    if (!keep_dir) remove_at(parent_fd, base);
  }
  unpacked_.insert(*clean);

  if (hardlink) return link_hard(parent_fd, base, hardlink);

  struct timespec times[2];
  entry_times(entry, times);
  mode_t perm = archive_entry_perm(entry);
  switch (type) {
    case AE_IFREG:
      return write_regular(parent_fd, base, entry);
    case AE_IFDIR: {
      // Created 0700 so later entries can be written into it; its real mode and
      // mtime are set at the end, once nothing more is added inside.
      if (!keep_dir && ::mkdirat(parent_fd.get(), base.c_str(), 0700) < 0) throw util::sys_error("mkdir");
      int fd = ::openat(parent_fd.get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) throw util::sys_error("open directory");
      util::UniqueFd dir(util::adopt, fd);
      set_owner(parent_fd, base, entry);
      set_xattrs(dir.get(), entry);
      dirs_.push_back({*clean, perm, {times[0], times[1]}});
      return;
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(entry);
      if (::symlinkat(target ? target : "", parent_fd.get(), base.c_str()) < 0) throw util::sys_error("symlink");
      set_owner(parent_fd, base, entry);
      ::utimensat(parent_fd.get(), base.c_str(), times, AT_SYMLINK_NOFOLLOW);
      return;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      if (::mknodat(parent_fd.get(), base.c_str(), type | perm, archive_entry_rdev(entry)) < 0) {
        if (errno != EPERM) throw util::sys_error("mknod");
        util::debug("layer entry \"{}\": device node skipped (mknod not permitted)", raw_name);
        ++result_.devices_skipped;
        return;
      }
      set_owner(parent_fd, base, entry);
      // We just created this node ourselves, so following it is safe here.
      ::fchmodat(parent_fd.get(), base.c_str(), perm, 0);
      ::utimensat(parent_fd.get(), base.c_str(), times, AT_SYMLINK_NOFOLLOW);
      return;
    }
    default:
      fail(ErrorKind::invalid_input, "unsupported entry type {:o}", type);
  }
}

void Applier::write_regular(util::Fd parent, const std::string& base, struct archive_entry* entry) {
  int fd = ::openat(parent.get(), base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw util::sys_error("create file");
  util::UniqueFd file(util::adopt, fd);
  const void* block;
  size_t size;
  la_int64_t offset;
  for (;;) {
    int r = archive_read_data_block(tar_, &block, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_OK) fail(ErrorKind::invalid_input, "read data: {}", archive_error_string(tar_));
    // Blocks carry offsets: sparse entries leave holes between them.
    const char* p = static_cast<const char*>(block);
    while (size > 0) {
      ssize_t n = ::pwrite(fd, p, size, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw util::sys_error("write file");
      p += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
  }
  if (archive_entry_size_is_set(entry) && ::ftruncate(fd, archive_entry_size(entry)) < 0)
    throw util::sys_error("truncate file");
  set_owner(parent, base, entry);
  set_xattrs(fd, entry);
  // After chown, which clears setuid/setgid bits.
  if (::fchmod(fd, archive_entry_perm(entry)) < 0) throw util::sys_error("chmod file");
  struct timespec times[2];
  entry_times(entry, times);
  if (::futimens(fd, times) < 0) throw util::sys_error("set file times");
}

void Applier::link_hard(util::Fd parent, const std::string& base, const char* target) {
  auto clean = clean_entry_path(target);
  if (!clean) fail(ErrorKind::invalid_input, "hardlink target \"{}\" escapes the layer", target);
  if (clean->empty()) fail(ErrorKind::invalid_input, "hardlink to the layer root");
  auto [tparent, tbase] = split_parent(*clean);
  util::UniqueFd tparent_fd;
  struct stat st;
  try {
    tparent_fd = open_dir_in_root(root_, tparent);
    if (!exists_at(tparent_fd, tbase, &st)) throw util::sys_error_code(ENOENT, "stat");
  } catch (...) {
    util::rethrow_with("hardlink target \"{}\"", target);
  }
  if (S_ISDIR(st.st_mode)) fail(ErrorKind::invalid_input, "hardlink target \"{}\" is a directory", target);
  // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
  if (::linkat(tparent_fd.get(), tbase.c_str(), parent.get(), base.c_str(), 0) < 0)
    throw util::sys_error("link to \"{}\"", target);
}

void Applier::set_owner(util::Fd parent, const std::string& base, struct archive_entry* entry) {
  if (!options_.chown || options_.single_id) return;
  auto uid = static_cast<uid_t>(archive_entry_uid(entry));
  auto gid = static_cast<gid_t>(archive_entry_gid(entry));
  int flags = AT_SYMLINK_NOFOLLOW | (base == "." ? AT_EMPTY_PATH : 0);
  const char* name = base == "." ? "" : base.c_str();
  if (::fchownat(parent.get(), name, uid, gid, flags) == 0) return;
  if (errno != EINVAL && errno != EPERM) throw util::sys_error("chown {}:{}", uid, gid);
  // The id is not mapped in this user namespace: keep the caller's ownership.
  ++result_.chown_skipped;
  util::warn_once("some layer files keep your own uid/gid: their owners are not mapped in the user namespace");
}

void Applier::set_xattrs(int fd, struct archive_entry* entry) {
  const char* name;
  const void* value;
  size_t size;
  archive_entry_xattr_reset(entry);
  while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
    std::string_view n = name;
    if (n.starts_with("trusted.") || is_overlay_xattr(n)) continue;
    if (::fsetxattr(fd, name, value, size, 0) == 0) continue;
    if (n.starts_with("user.") && errno != ENOTSUP) throw util::sys_error("setxattr {}", n);
    // security.capability without privilege, ACLs or labels the file system refuses.
    util::debug("setxattr {}: {}", n, std::strerror(errno));
  }
}

void Applier::apply_whiteout(const std::string& parent, const std::string& base) {
  bool opaque = base == kOpaqueMarker;
  if (!opaque && base.starts_with(kWhiteoutMetaPrefix)) return;  // aufs metadata (.wh..wh.plnk...)
  std::string victim = base.substr(kWhiteoutPrefix.size());
  if (!opaque && (victim.empty() || victim == "." || victim == ".."))
    fail(ErrorKind::invalid_input, "invalid whiteout");
  if (options_.whiteout_mode == WhiteoutMode::overlay) {
    auto dir = make_dirs_in_root(root_, parent);
    if (opaque) return mark_overlay_opaque(open_dir_in_root(root_, parent, O_RDONLY));
    remove_at(dir, victim);
    return make_overlay_whiteout(dir, victim);
  }
  util::UniqueFd dir;
  try {
    dir = open_dir_in_root(root_, parent, opaque ? O_RDONLY : O_PATH);
  } catch (const std::system_error& e) {
    if (e.code().value() == ENOENT) return;  // nothing below to hide
    throw;
  }
  if (opaque) return prune_opaque(dir, parent);
  remove_at(dir, victim);
}

// Opaque in remove mode: everything in the directory that this layer did not
// itself write came from below and goes (Docker's unpackedPaths rule).
void Applier::prune_opaque(util::Fd dir, const std::string& prefix) {
  int dup = ::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) throw util::sys_error("open opaque directory");
  DIR* d = ::fdopendir(dup);
  if (!d) throw util::sys_error("list opaque directory");
  std::vector<std::pair<std::string, bool>> children;
  while (auto* ent = ::readdir(d)) {
    std::string_view n = ent->d_name;
    if (n != "." && n != "..") children.emplace_back(n, ent->d_type == DT_DIR);
  }
  ::closedir(d);
  for (const auto& [name, is_dir] : children) {
    std::string path = prefix.empty() ? name : prefix + "/" + name;
    if (!unpacked_.contains(path)) {
      remove_at(dir, name);
    } else if (is_dir) {
      int fd = ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) continue;
      util::UniqueFd child(util::adopt, fd);
      prune_opaque(child, path);
    }
  }
}

util::UniqueFd Applier::open_existing_dir(const std::string& clean) {
  if (clean.empty()) return open_dir_in_root(root_, "", O_RDONLY);
  auto [parent, base] = split_parent(clean);
  auto parent_fd = open_dir_in_root(root_, parent);
  int fd = ::openat(parent_fd.get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw util::sys_error("open directory \"{}\"", clean);
  return util::UniqueFd(util::adopt, fd);
}

void Applier::fix_directories() {
  // Children before parents, so setting a child's times does not move its parent's.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    util::UniqueFd dir;
    try {
      dir = open_existing_dir(it->path);
    } catch (const std::system_error&) {
      continue;  // replaced or removed by a later entry
    }
    if (::fchmod(dir.get(), it->mode) < 0) throw util::sys_error("chmod directory \"{}\"", it->path);
    if (::futimens(dir.get(), it->times) < 0) throw util::sys_error("set times of \"{}\"", it->path);
  }
}

}  // namespace

ApplyResult apply_layer(util::Fd tar_stream, const std::filesystem::path& target_dir,
                        const ApplyOptions& options) {
  util::FdSource source(tar_stream);
  return apply_layer(source, target_dir, options);
}

ApplyResult apply_layer(util::ByteSource& tar_stream, const std::filesystem::path& target_dir,
                        const ApplyOptions& options) {
  auto root = util::open_file(target_dir, O_PATH | O_DIRECTORY);
  ApplyResult result;
  TarInput input(tar_stream);
  Applier applier(root, input.tar(), options, result);
  struct archive_entry* entry;
  for (;;) {
    int r = archive_read_next_header(input.tar(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r == ARCHIVE_WARN) util::debug("read layer: {}", input.error_text());
    else if (r != ARCHIVE_OK) fail(ErrorKind::invalid_input, "read layer: {}", input.error_text());
    const char* name = archive_entry_pathname(entry);
    try {
      applier.apply(entry);
    } catch (...) {
      util::rethrow_with("layer entry \"{}\"", name ? name : "");
    }
    ++result.entries;
  }
  input.finish();
  applier.fix_directories();
  result.diff_id = input.diff_id();
  result.blob_digest = input.blob_digest();
  result.compressed_size = input.compressed_size();
  result.uncompressed_size = input.uncompressed_size();
  return result;
}

}  // namespace kiln::layer
