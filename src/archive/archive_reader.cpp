// ArchiveReader: see archive_reader.hpp. Spooling once is what lets a pipe be read
// at all (docker and podman put manifest.json after or before the layers as they
// please) and keeps layers out of memory; the spooled layer files later move into
// the store's blobs/ by rename, since the spool directory lives in the store's tmp/.
#include "archive/archive_reader.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "layer/safe_path.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::archive {
namespace {

constexpr int kMaxLinkHops = 16;

struct ReadArchiveDeleter {
  void operator()(struct archive* a) const noexcept { archive_read_free(a); }
};

// Copies everything from `in` to `out`.
void copy_fd(util::Fd in, util::Fd out, const std::string& what) {
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw util::sys_error("read {}", what);
    }
    if (n == 0) return;
    util::write_all(out, std::string_view(buf.data(), static_cast<std::size_t>(n)));
  }
}

}  // namespace

std::optional<std::string> clean_member_name(std::string_view name) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  if (parts.empty()) return std::nullopt;
  std::string out;
  for (auto part : parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

std::optional<std::string> resolve_member_link(std::string_view from, std::string_view target) {
  if (target.starts_with('/')) return clean_member_name(target);
  std::size_t slash = from.rfind('/');
  std::string joined = slash == std::string_view::npos ? std::string() : std::string(from.substr(0, slash + 1));
  joined += target;
  return clean_member_name(joined);
}

ArchiveReader::~ArchiveReader() = default;

ArchiveReader ArchiveReader::read_tar(util::Fd fd, const fs::path& spool_dir, std::string label) {
  ArchiveReader reader(std::move(label), spool_dir);
  std::unique_ptr<struct archive, ReadArchiveDeleter> a(archive_read_new());
  if (!a) throw Error("libarchive: out of memory");
  // In-process decompressors only: archive_read_support_filter_all would also run
  // external programs on untrusted input.
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_fd(a.get(), fd.get(), 1 << 16) != ARCHIVE_OK)
    fail(ErrorKind::invalid_input, "{}", archive_error_string(a.get()));

  std::vector<char> buf(1 << 20);
  unsigned count = 0;
  for (;;) {
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      fail(ErrorKind::invalid_input, "{}", archive_error_string(a.get()));
    const char* raw = archive_entry_pathname(entry);
    if (!raw) raw = archive_entry_pathname_utf8(entry);
    if (!raw) continue;
    std::string raw_name = raw;
    auto name = clean_member_name(raw_name);
    if (!name) continue;  // "./" itself, or a name climbing out: never looked up
    ++count;

    Member member;
    const char* hardlink = archive_entry_hardlink(entry);
    mode_t type = archive_entry_filetype(entry);
    if (hardlink) {
      auto target = clean_member_name(hardlink);
      if (!target) continue;
      member.kind = Member::Kind::link;
      member.target = *target;
    } else if (type == AE_IFLNK) {
      const char* link = archive_entry_symlink(entry);
      auto target = link ? resolve_member_link(*name, link) : std::nullopt;
      if (!target) continue;
      member.kind = Member::Kind::link;
      member.target = *target;
    } else if (type == AE_IFREG) {
      member.spooled = "m" + std::to_string(count);
      util::UniqueFd out = util::open_file(spool_dir / member.spooled, O_WRONLY | O_CREAT | O_EXCL, 0600);
      for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
        if (n < 0)
          fail(ErrorKind::invalid_input, "member \"{}\": {}", raw_name, archive_error_string(a.get()));
        if (n == 0) break;
        util::write_all(out, std::string_view(buf.data(), static_cast<std::size_t>(n)));
        member.size += static_cast<std::uint64_t>(n);
      }
    } else {
      continue;  // directories and anything else carry nothing an image needs
    }
    reader.members_.insert_or_assign(*name, std::move(member));
  }
  if (count == 0) fail(ErrorKind::invalid_input, "empty archive");
  return reader;
}

ArchiveReader ArchiveReader::open_dir(const fs::path& dir, const fs::path& spool_dir) {
  ArchiveReader reader(dir.string(), spool_dir);
  reader.dir_ = util::open_file(dir, O_PATH | O_DIRECTORY);
  return reader;
}

std::string ArchiveReader::resolve(std::string_view name) const {
  auto clean = clean_member_name(name);
  if (!clean) fail(ErrorKind::invalid_input, "member name \"{}\" leaves the archive", name);
  if (dir_) return *clean;
  std::string current = *clean;
  for (int hop = 0; hop < kMaxLinkHops; ++hop) {
    auto it = members_.find(current);
    if (it == members_.end()) fail(ErrorKind::not_found, "missing member \"{}\"", name);
    if (it->second.kind == Member::Kind::file) return current;
    current = it->second.target;
  }
  fail(ErrorKind::invalid_input, "member \"{}\": too many levels of links", name);
}

util::UniqueFd ArchiveReader::open_member(std::string_view name) const {
  std::string clean = resolve(name);
  if (!dir_) return util::open_read(spool_dir_ / members_.find(clean)->second.spooled);
  auto [parent, base] = layer::split_parent(clean);
  try {
    util::UniqueFd parent_fd = layer::open_dir_in_root(dir_, parent);
    // O_NOFOLLOW: a symlink as the last component is refused rather than followed.
    util::UniqueFd fd = util::open_at(parent_fd, base, O_RDONLY | O_NOFOLLOW);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw util::sys_error("stat {}", clean);
    if (!S_ISREG(st.st_mode)) fail(ErrorKind::invalid_input, "member \"{}\" is not a regular file", name);
    return fd;
  } catch (const std::exception& e) {
    if (util::is_not_found(e)) fail(ErrorKind::not_found, "missing member \"{}\"", name);
    throw;
  }
}

bool ArchiveReader::has(std::string_view name) const {
  try {
    open_member(name);
    return true;
  } catch (const std::exception& e) {
    if (util::is_not_found(e)) return false;
    throw;
  }
}

std::uint64_t ArchiveReader::size(std::string_view name) const {
  util::UniqueFd fd = open_member(name);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw util::sys_error("stat member {}", name);
  return static_cast<std::uint64_t>(st.st_size);
}

std::string ArchiveReader::read(std::string_view name, std::uint64_t limit) const {
  util::UniqueFd fd = open_member(name);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw util::sys_error("stat member {}", name);
  if (static_cast<std::uint64_t>(st.st_size) > limit)
    fail(ErrorKind::invalid_input, "member \"{}\" is too large ({} bytes)", name, st.st_size);
  return util::read_all(fd);
}

fs::path ArchiveReader::file(std::string_view name) {
  fs::path out = spool_dir_ / ("c" + std::to_string(++next_copy_));
  if (!dir_) {
    std::string clean = resolve(name);
    fs::path spooled = spool_dir_ / members_.find(clean)->second.spooled;
    if (::link(spooled.c_str(), out.c_str()) != 0) throw util::sys_error("link {}", spooled.string());
    return out;
  }
  util::UniqueFd in = open_member(name);
  util::UniqueFd copy = util::open_file(out, O_WRONLY | O_CREAT | O_EXCL, 0600);
  copy_fd(in, copy, std::string(name));
  return out;
}

}  // namespace kiln::archive
