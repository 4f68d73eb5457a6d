// Blobs: content-addressed immutable files under blobs/<algorithm>/<hex>,
// verified before publication and published by rename(2).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/failpoint.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::store {

namespace {

void require_sha256(const std::optional<Digest>& expected) {
  if (expected && expected->algorithm() != "sha256")
    fail(ErrorKind::invalid_input, "blob {}: only sha256 digests can be verified", expected->str());
}

bool is_inside(const fs::path& path, const fs::path& dir) {
  auto rel = fs::absolute(path).lexically_normal().lexically_relative(dir);
  return !rel.empty() && *rel.begin() != ".." && *rel.begin() != ".";
}

}  // namespace

fs::path Store::blob_path(const Digest& digest) const {
  return root_ / "blobs" / std::string(digest.algorithm()) / std::string(digest.hex());
}

bool Store::has_blob(const Digest& digest) const {
  struct stat st;
  return ::stat(blob_path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void Store::publish_blob_file(const fs::path& staged, const Digest& digest) {
  auto lock = write_lock();
  // Idempotent: the same digest is the same content, the staged copy just goes away.
  if (has_blob(digest)) return;
  failpoint("blob-before-rename");
  util::rename_durable(staged, blob_path(digest));
}

Digest Store::put_blob(std::string_view bytes, const std::optional<Digest>& expected) {
  try {
    require_sha256(expected);
    Digest digest = util::sha256_of(bytes);
    if (expected && digest != *expected)
      fail(ErrorKind::corrupt, "content hashes to {}", digest.str());
    if (has_blob(digest)) return digest;
    StagingDir entry = staging_dir("blob");
    fs::path staged = entry.path() / "data";
    {
      auto fd = util::open_file(staged, O_WRONLY | O_CREAT | O_EXCL, 0644);
      util::write_all(fd, bytes);
      if (::fsync(fd.get()) < 0) throw util::sys_error("fsync {}", staged.string());
    }
    publish_blob_file(staged, digest);
    return digest;
  } catch (...) {
    util::rethrow_with("store blob {}", expected ? expected->str() : std::string("(bytes)"));
  }
}

Digest Store::put_blob_file(const fs::path& file, const std::optional<Digest>& expected) {
  try {
    require_sha256(expected);
    StagingDir entry = staging_dir("blob");
    fs::path staged = entry.path() / "data";
    // Hash what will be published, never the source: a copied file could change between.
    if (is_inside(file, tmp_dir())) {
      if (::rename(file.c_str(), staged.c_str()) < 0)
        throw util::sys_error("rename {} to {}", file.string(), staged.string());
    } else {
      fs::copy_file(file, staged);
    }
    auto fd = util::open_read(staged);
    Digest digest = util::sha256_of_fd(fd);
    if (expected && digest != *expected)
      fail(ErrorKind::corrupt, "content hashes to {}", digest.str());
    if (::fsync(fd.get()) < 0) throw util::sys_error("fsync {}", staged.string());
    publish_blob_file(staged, digest);
    return digest;
  } catch (...) {
    util::rethrow_with("store blob {}", expected ? expected->str() : file.string());
  }
}

Digest Store::put_written_blob(const fs::path& file, const Digest& digest) {
  try {
    require_sha256(digest);
    if (!is_inside(file, tmp_dir())) fail(ErrorKind::invalid_input, "{} is not in the store's tmp/", file.string());
    if (has_blob(digest)) return digest;  // the same content; the file goes with its staging dir
    StagingDir entry = staging_dir("blob");
    fs::path staged = entry.path() / "data";
    if (::rename(file.c_str(), staged.c_str()) < 0)
      throw util::sys_error("rename {} to {}", file.string(), staged.string());
    {
      auto fd = util::open_read(staged);
      if (::fsync(fd.get()) < 0) throw util::sys_error("fsync {}", staged.string());
    }
    publish_blob_file(staged, digest);
    return digest;
  } catch (...) {
    util::rethrow_with("store blob {}", digest.str());
  }
}

std::string Store::read_blob(const Digest& digest) const {
  auto text = util::try_read_file(blob_path(digest));
  if (!text) fail(ErrorKind::not_found, "blob {} is not in the store", digest.str());
  return std::move(*text);
}

std::uint64_t Store::blob_size(const Digest& digest) const {
  struct stat st;
  if (::stat(blob_path(digest).c_str(), &st) < 0) {
    if (errno == ENOENT) fail(ErrorKind::not_found, "blob {} is not in the store", digest.str());
    throw util::sys_error("stat {}", blob_path(digest).string());
  }
  return static_cast<std::uint64_t>(st.st_size);
}

std::uint64_t Store::layer_size_hint(const Digest& digest) const {
  auto fd = util::open_read(blob_path(digest));
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) throw util::sys_error("stat {}", blob_path(digest).string());
  auto size = static_cast<std::uint64_t>(st.st_size);
  unsigned char head[2] = {0, 0}, tail[4] = {0, 0, 0, 0};
  // gzip (RFC 1952): the last four bytes of a member are its uncompressed size mod 2^32.
  if (size < 18 || ::pread(fd.get(), head, 2, 0) != 2 || head[0] != 0x1f || head[1] != 0x8b) return size;
  if (::pread(fd.get(), tail, 4, static_cast<off_t>(size - 4)) != 4) return size;
  return std::uint64_t{tail[0]} | std::uint64_t{tail[1]} << 8 | std::uint64_t{tail[2]} << 16 |
         std::uint64_t{tail[3]} << 24;
}

bool Store::remove_blob(const Digest& digest) {
  auto lock = write_lock();
  auto index = *load_index();
  for (const auto& image : index.images())
    for (const auto& used : referenced_blobs(image))
      if (used == digest) fail(ErrorKind::conflict, "blob {} is used by image {}", digest.str(), image.id.short_hex());
  for (const auto& layer : list_layers())
    if (layer.blob == digest)
      fail(ErrorKind::conflict, "blob {} is used by layer {}", digest.str(), layer.chain_id.short_hex());
  auto path = blob_path(digest);
  if (::unlink(path.c_str()) < 0) {
    if (errno == ENOENT) return false;
    throw util::sys_error("unlink {}", path.string());
  }
  util::fsync_path(path.parent_path());
  return true;
}

std::vector<Digest> Store::list_blobs() const {
  std::vector<Digest> out;
  std::error_code ec;
  for (fs::directory_iterator it(root_ / "blobs" / "sha256", ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (is_hex64(name)) out.push_back(Digest::sha256_hex(name));
  }
  return out;
}

}  // namespace kiln::store
