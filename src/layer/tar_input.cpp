// The two chained libarchive readers behind TarInput, with their hashing callbacks.
#include "layer/tar_input.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "util/error.hpp"

namespace kiln::layer {

struct TarInput::State {
  std::optional<util::FdSource> fd_source;  // when reading a descriptor
  util::ByteSource* source = nullptr;
  struct archive* outer = nullptr;
  struct archive* inner = nullptr;
  util::Sha256 blob_hash;
  util::Sha256 tar_hash;
  std::uint64_t blob_bytes = 0;
  std::uint64_t tar_bytes = 0;
  bool outer_eof = false;

  ~State() {
    if (inner) archive_read_free(inner);
    if (outer) archive_read_free(outer);
  }
};

namespace {

la_ssize_t read_blob(struct archive* a, void* data, const void** buffer) {
  auto* s = static_cast<TarInput::State*>(data);
  std::string_view chunk;
  try {
    chunk = s->source->next();
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", util::describe(e).c_str());
    return -1;
  }
  s->blob_hash.update(chunk.data(), chunk.size());
  s->blob_bytes += chunk.size();
  *buffer = chunk.data();
  return static_cast<la_ssize_t>(chunk.size());
}

// The decompressed stream, block by block as the outer reader holds it (no copy).
la_ssize_t read_tar(struct archive* a, void* data, const void** buffer) {
  auto* s = static_cast<TarInput::State*>(data);
  for (;;) {
    if (s->outer_eof) return 0;
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int r = archive_read_data_block(s->outer, &block, &size, &offset);
    if (r == ARCHIVE_EOF) {
      s->outer_eof = true;
      return 0;
    }
    if (r < ARCHIVE_WARN || offset != static_cast<la_int64_t>(s->tar_bytes)) {
      const char* why = archive_error_string(s->outer);
      archive_set_error(a, EIO, "decompress: %s", why ? why : "error");
      return -1;
    }
    if (size == 0) continue;
    s->tar_hash.update(static_cast<const char*>(block), size);
    s->tar_bytes += size;
    *buffer = block;
    return static_cast<la_ssize_t>(size);
  }
}

}  // namespace

TarInput::TarInput(util::Fd fd) : state_(std::make_unique<State>()) {
  state_->fd_source.emplace(fd);
  open(*state_->fd_source);
}

TarInput::TarInput(util::ByteSource& source) : state_(std::make_unique<State>()) { open(source); }

void TarInput::open(util::ByteSource& source) {
  auto& s = *state_;
  s.source = &source;
  s.outer = archive_read_new();
  s.inner = archive_read_new();
  if (!s.outer || !s.inner) throw Error("libarchive: out of memory");
  // Only in-process decompressors: archive_read_support_filter_all would also enable
  // filters that run external programs (lrzip, lzop...) on untrusted input. OCI
  // layers are gzip or zstd; docker import also accepts bzip2 and xz.
  archive_read_support_filter_gzip(s.outer);
  archive_read_support_filter_zstd(s.outer);
  archive_read_support_filter_bzip2(s.outer);
  archive_read_support_filter_xz(s.outer);
  archive_read_support_format_raw(s.outer);
  archive_read_support_format_empty(s.outer);
  if (archive_read_open(s.outer, &s, nullptr, read_blob, nullptr) != ARCHIVE_OK)
    fail(ErrorKind::invalid_input, "read layer: {}", archive_error_string(s.outer));
  struct archive_entry* raw = nullptr;
  int r = archive_read_next_header(s.outer, &raw);
  if (r == ARCHIVE_EOF) s.outer_eof = true;  // empty blob: no tar at all
  else if (r != ARCHIVE_OK)
    fail(ErrorKind::invalid_input, "read layer: {}", archive_error_string(s.outer));

  // tar covers ustar, pax, GNU and v7 headers; no other archive format is a layer.
  archive_read_support_format_tar(s.inner);
  archive_read_support_format_empty(s.inner);
  if (archive_read_open(s.inner, &s, nullptr, read_tar, nullptr) != ARCHIVE_OK)
    fail(ErrorKind::invalid_input, "read layer: {}", error_text());
}

TarInput::~TarInput() = default;

struct archive* TarInput::tar() noexcept { return state_->inner; }

void TarInput::finish() {
  auto& s = *state_;
  // The tar reader stops at the end-of-archive blocks; the diff id covers the whole
  // decompressed stream and the blob digest every byte of the blob.
  const void* ignored;
  while (!s.outer_eof) {
    if (read_tar(s.inner, &s, &ignored) < 0)
      fail(ErrorKind::invalid_input, "read layer: {}", error_text());
  }
  for (;;) {
    la_ssize_t n = read_blob(s.outer, &s, &ignored);
    if (n < 0) fail(ErrorKind::invalid_input, "read layer: {}", archive_error_string(s.outer));
    if (n == 0) break;
  }
}

util::Digest TarInput::blob_digest() { return state_->blob_hash.finish(); }
util::Digest TarInput::diff_id() { return state_->tar_hash.finish(); }
std::uint64_t TarInput::compressed_size() const noexcept { return state_->blob_bytes; }
std::uint64_t TarInput::uncompressed_size() const noexcept { return state_->tar_bytes; }

std::string TarInput::error_text() {
  const char* inner = archive_error_string(state_->inner);
  return inner ? inner : "unknown error";
}

}  // namespace kiln::layer
