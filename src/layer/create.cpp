// Tar writing for create_layer and create_layer_from_changes: libarchive's pax
// writer feeding CompressedWriter through a write callback.
#include "layer/create.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <map>
#include <set>

#include "layer/libarchive_link.hpp"
#include "layer/safe_path.hpp"
#include "layer/whiteout.hpp"
#include "util/dir.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::layer {

namespace {

// What libarchive's write callback writes into; an exception must not unwind
// through libarchive's C frames, so it is parked here and rethrown after.
struct Sink {
  CompressedWriter* writer;
  std::exception_ptr error;
};

la_ssize_t write_callback(struct archive* a, void* data, const void* buffer, size_t size) {
  auto* sink = static_cast<Sink*>(data);
  try {
    sink->writer->write(buffer, size);
    return static_cast<la_ssize_t>(size);
  } catch (...) {
    sink->error = std::current_exception();
    archive_set_error(a, EIO, "write layer output");
    return -1;
  }
}

// Only xattrs that mean something inside an image: user.* and file capabilities.
// Labels (security.selinux), ACLs and overlay metadata are host details.
bool exported_xattr(std::string_view name) {
  if (is_overlay_xattr(name)) return false;
  return name.starts_with("user.") || name == "security.capability";
}

class TarBuilder {
public:
  TarBuilder(util::Fd out, const CreateOptions& options)
      : options_(options), writer_(out, options.compression, options.level), sink_{&writer_, nullptr} {
    tar_ = archive_write_new();
    entry_ = archive_entry_new();
    if (!tar_ || !entry_) throw Error("libarchive: out of memory");
    // pax_restricted: plain ustar headers unless a name, id or xattr needs pax records.
    archive_write_set_format_pax_restricted(tar_);
    archive_write_add_filter_none(tar_);
    archive_write_set_bytes_in_last_block(tar_, 1);
    if (archive_write_open(tar_, &sink_, nullptr, write_callback, nullptr) != ARCHIVE_OK) check(ARCHIVE_FATAL);
  }
  ~TarBuilder() {
    archive_entry_free(entry_);
    archive_write_free(tar_);
  }

  // Adds dir/name at path (relative); returns an open fd when it is a directory to
  // descend into (from_overlay_upper whiteouts never are).
  util::UniqueFd add(util::Fd dir, const std::string& name, const std::string& path) {
    struct stat st;
    // fuse-overlayfs' opaque markers: the directory itself is emitted as opaque.
    if (options_.from_overlay_upper && is_fuse_overlay_marker(name)) return {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) throw util::sys_error("stat {}", path);
    if (S_ISSOCK(st.st_mode)) return {};
    util::UniqueFd fd;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      int raw = ::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (raw < 0) throw util::sys_error("open {}", path);
      fd = util::UniqueFd(util::adopt, raw);
    }
    if (options_.from_overlay_upper && is_overlay_whiteout(st, fd)) {
      auto [parent, base] = split_parent(path);
      add_marker(parent.empty() ? std::string(kWhiteoutPrefix) + base
                                : parent + "/" + std::string(kWhiteoutPrefix) + base,
                 st);
      return {};
    }
    begin(path, st);
    if (S_ISDIR(st.st_mode)) archive_entry_set_pathname(entry_, (path + "/").c_str());
    if (S_ISLNK(st.st_mode)) archive_entry_set_symlink(entry_, read_link(dir, name, path).c_str());
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) archive_entry_set_rdev(entry_, st.st_rdev);
    bool data = S_ISREG(st.st_mode);
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      auto [it, first] = links_.try_emplace({st.st_dev, st.st_ino}, path);
      if (!first) {
        archive_entry_set_hardlink(entry_, it->second.c_str());
        archive_entry_set_size(entry_, 0);
        data = false;
      }
    }
    if (fd) add_xattrs(fd, path);
    check(archive_write_header(tar_, entry_));
    if (data) copy_data(fd, st.st_size, path);
    ++entries_;
    if (S_ISDIR(st.st_mode)) {
      if (options_.from_overlay_upper && is_overlay_opaque(fd)) add_marker(path + "/" + std::string(kOpaqueMarker), st);
      return fd;
    }
    return {};
  }

  // A whiteout or opaque marker: an empty regular file with mode 0, carrying the
  // owner and mtime of what it stands for.
  void add_marker(const std::string& path, const struct stat& st) {
    begin(path, st);
    archive_entry_set_filetype(entry_, AE_IFREG);
    archive_entry_set_perm(entry_, 0);
    archive_entry_set_size(entry_, 0);
    check(archive_write_header(tar_, entry_));
    ++entries_;
  }

  CreateResult finish() {
    check(archive_write_close(tar_));
    writer_.finish();
    return {writer_.diff_id(), writer_.blob_digest(), writer_.compressed_size(), writer_.uncompressed_size(),
            entries_};
  }

private:
  void begin(const std::string& path, const struct stat& st) {
    archive_entry_clear(entry_);
    archive_entry_set_pathname(entry_, path.c_str());
    archive_entry_set_mode(entry_, st.st_mode);
    archive_entry_set_uid(entry_, st.st_uid);
    archive_entry_set_gid(entry_, st.st_gid);
    if (S_ISREG(st.st_mode)) archive_entry_set_size(entry_, st.st_size);
    // Whole seconds, as Docker writes them: sub-second times would need a pax
    // record per entry and no image tool relies on them.
    std::int64_t sec = st.st_mtim.tv_sec;
    if (options_.source_date_epoch && sec > *options_.source_date_epoch) sec = *options_.source_date_epoch;
    archive_entry_set_mtime(entry_, sec, 0);
  }

  void add_xattrs(util::Fd fd, const std::string& path) {
    std::string names(4096, '\0');
    ssize_t n = ::flistxattr(fd.get(), names.data(), names.size());
    if (n < 0 && errno == ERANGE) {
      names.resize(65536);
      n = ::flistxattr(fd.get(), names.data(), names.size());
    }
    if (n <= 0) return;
    std::set<std::string> sorted;
    for (std::size_t pos = 0; pos < static_cast<std::size_t>(n);) {
      std::string one(names.c_str() + pos);
      pos += one.size() + 1;
      if (exported_xattr(one)) sorted.insert(one);
    }
    for (const auto& name : sorted) {
      std::string value(65536, '\0');
      ssize_t len = ::fgetxattr(fd.get(), name.c_str(), value.data(), value.size());
      if (len < 0) throw util::sys_error("getxattr {} {}", name, path);
      archive_entry_xattr_add_entry(entry_, name.c_str(), value.data(), static_cast<size_t>(len));
    }
  }

  void copy_data(util::Fd fd, off_t size, const std::string& path) {
    std::vector<char> buf(1 << 18);
    off_t left = size;
    while (left > 0) {
      ssize_t n = ::read(fd.get(), buf.data(), static_cast<size_t>(std::min<off_t>(left, buf.size())));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw util::sys_error("read {}", path);
      if (n == 0) break;  // the file shrank: libarchive pads the entry with zeros
      if (archive_write_data(tar_, buf.data(), static_cast<size_t>(n)) < 0) check(ARCHIVE_FATAL);
      left -= n;
    }
  }

  static std::string read_link(util::Fd dir, const std::string& name, const std::string& path) {
    std::string buf(4096, '\0');
    ssize_t n = ::readlinkat(dir.get(), name.c_str(), buf.data(), buf.size());
    if (n < 0) throw util::sys_error("readlink {}", path);
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }

  void check(int r) {
    if (r >= ARCHIVE_WARN) return;
    if (sink_.error) std::rethrow_exception(sink_.error);
    const char* why = archive_error_string(tar_);
    fail("write tar: {}", why ? why : "error");
  }

  const CreateOptions& options_;
  CompressedWriter writer_;
  Sink sink_;
  struct archive* tar_ = nullptr;
  struct archive_entry* entry_ = nullptr;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::uint64_t entries_ = 0;
};


void add_tree(TarBuilder& builder, util::Fd dir, const std::string& prefix) {
  for (const auto& name : util::sorted_entries(dir, prefix.empty() ? "." : prefix)) {
    std::string path = prefix.empty() ? name : prefix + "/" + name;
    if (auto child = builder.add(dir, name, path)) add_tree(builder, child, path);
  }
}

}  // namespace

CreateResult create_layer(const std::filesystem::path& dir, util::Fd out, const CreateOptions& options) {
  try {
    auto root = util::open_file(dir, O_RDONLY | O_DIRECTORY);
    TarBuilder builder(out, options);
    add_tree(builder, root, "");
    return builder.finish();
  } catch (...) {
    util::rethrow_with("create layer from {}", dir.string());
  }
}

CreateResult create_layer_from_changes(const std::filesystem::path& dir, const std::vector<Change>& changes,
                                       util::Fd out, const CreateOptions& options) {
  try {
    // Every changed path brings its parent directories, so extraction recreates them
    // with their real metadata rather than as bare 0755 directories.
    std::map<std::string, bool, decltype(&tar_order_less)> wanted(&tar_order_less);  // path -> is whiteout
    auto add_parents = [&](const std::string& path) {
      for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
        wanted.emplace(path.substr(0, slash), false);
    };
    for (const auto& change : changes) {
      add_parents(change.path);
      if (change.kind == ChangeKind::deleted) {
        auto [parent, base] = split_parent(change.path);
        wanted[(parent.empty() ? "" : parent + "/") + std::string(kWhiteoutPrefix) + base] = true;
      } else {
        wanted[change.path] = false;
      }
    }
    auto root = util::open_file(dir, O_PATH | O_DIRECTORY);
    TarBuilder builder(out, options);
    for (const auto& [path, whiteout] : wanted) {
      auto [parent, base] = split_parent(path);
      auto parent_fd = open_dir_in_root(root, parent);
      if (!whiteout) {
        builder.add(parent_fd, base, path);
        continue;
      }
      struct stat st;
      if (::fstat(parent_fd.get(), &st) < 0) throw util::sys_error("stat {}", parent);
      builder.add_marker(path, st);
    }
    return builder.finish();
  } catch (...) {
    util::rethrow_with("create layer from changes in {}", dir.string());
  }
}

}  // namespace kiln::layer
