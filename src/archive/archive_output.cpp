// ArchiveOutput implementations: see archive_output.hpp.
#include "archive/archive_output.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>

#include "layer/libarchive_link.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::archive {
namespace {

class TarOutput final : public ArchiveOutput {
public:
  explicit TarOutput(util::Fd out) : out_(out) {
    tar_ = archive_write_new();
    entry_ = archive_entry_new();
    if (!tar_ || !entry_) throw Error("libarchive: out of memory");
    archive_write_set_format_pax_restricted(tar_);
    archive_write_add_filter_none(tar_);
    archive_write_set_bytes_in_last_block(tar_, 1);
    if (archive_write_open(tar_, this, nullptr, write_callback, nullptr) != ARCHIVE_OK) check(ARCHIVE_FATAL);
  }
  ~TarOutput() override {
    archive_entry_free(entry_);
    archive_write_free(tar_);
  }

  void begin(std::string_view name, std::uint64_t size) override {
    add_parents(name);
    header(name, AE_IFREG | 0644, size);
    remaining_ = size;
  }
  void write(const void* data, std::size_t size) override {
    if (size > remaining_) fail("save: member grew while it was written");
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      la_ssize_t n = archive_write_data(tar_, p, size);
      if (n <= 0) check(ARCHIVE_FATAL);
      p += n;
      size -= static_cast<std::size_t>(n);
      remaining_ -= static_cast<std::uint64_t>(n);
    }
  }
  void end() override {
    if (remaining_ != 0) fail("save: member shrank while it was written");
    check(archive_write_finish_entry(tar_));
  }
  void finish() override { check(archive_write_close(tar_)); }

private:
  // The errno of a failed write is kept here: libarchive's callback must not throw.
  static la_ssize_t write_callback(struct archive*, void* self, const void* buffer, size_t length) {
    auto* out = static_cast<TarOutput*>(self);
    const char* p = static_cast<const char*>(buffer);
    size_t left = length;
    while (left > 0) {
      ssize_t n = ::write(out->out_.get(), p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        out->errno_ = errno;
        return -1;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    return static_cast<la_ssize_t>(length);
  }
  void check(int r) {
    if (r >= ARCHIVE_WARN) return;
    if (errno_ != 0) throw util::sys_error_code(errno_, "write archive");
    fail("write archive: {}", archive_error_string(tar_));
  }
  void header(std::string_view name, mode_t mode, std::uint64_t size) {
    archive_entry_clear(entry_);
    archive_entry_copy_pathname(entry_, std::string(name).c_str());
    archive_entry_set_mode(entry_, mode);
    archive_entry_set_size(entry_, static_cast<la_int64_t>(size));
    archive_entry_set_mtime(entry_, 0, 0);
    archive_entry_set_uid(entry_, 0);
    archive_entry_set_gid(entry_, 0);
    check(archive_write_header(tar_, entry_));
  }
  void add_parents(std::string_view name) {
    for (std::size_t slash = name.find('/'); slash != std::string_view::npos; slash = name.find('/', slash + 1)) {
      std::string dir(name.substr(0, slash));
      if (!dirs_.insert(dir).second) continue;
      header(dir + "/", AE_IFDIR | 0755, 0);
      check(archive_write_finish_entry(tar_));
    }
  }

  util::Fd out_;
  struct archive* tar_ = nullptr;
  struct archive_entry* entry_ = nullptr;
  std::set<std::string> dirs_;
  std::uint64_t remaining_ = 0;
  int errno_ = 0;
};

class DirOutput final : public ArchiveOutput {
public:
  explicit DirOutput(std::filesystem::path dir) : dir_(std::move(dir)) {}

  void begin(std::string_view name, std::uint64_t size) override {
    std::filesystem::path path = dir_ / std::string(name);
    util::make_dirs(path.parent_path());
    current_ = util::open_file(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    name_ = path.string();
    remaining_ = size;
  }
  void write(const void* data, std::size_t size) override {
    if (size > remaining_) fail("save: member grew while it was written");
    util::write_all(current_, std::string_view(static_cast<const char*>(data), size));
    remaining_ -= size;
  }
  void end() override {
    if (remaining_ != 0) fail("save: member shrank while it was written");
    if (::fsync(current_.get()) != 0) throw util::sys_error("fsync {}", name_);
    current_.reset();
  }
  void finish() override { util::fsync_path(dir_); }

private:
  std::filesystem::path dir_;
  util::UniqueFd current_;
  std::string name_;
  std::uint64_t remaining_ = 0;
};

}  // namespace

std::unique_ptr<ArchiveOutput> tar_output(util::Fd out) { return std::make_unique<TarOutput>(out); }

std::unique_ptr<ArchiveOutput> dir_output(const std::filesystem::path& dir) {
  return std::make_unique<DirOutput>(dir);
}

}  // namespace kiln::archive
