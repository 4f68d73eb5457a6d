// gzip (zlib deflate with a gzip wrapper: mtime 0, no name) and zstd streaming
// compression behind CompressedWriter.
#include "layer/compress.hpp"

#include <zlib.h>
#include <zstd.h>

#include <optional>
#include <vector>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::layer {

Compression parse_compression(std::string_view text) {
  if (text == "gzip") return Compression::gzip;
  if (text == "zstd") return Compression::zstd;
  if (text == "none" || text == "uncompressed") return Compression::none;
  fail(ErrorKind::invalid_input, "unknown compression \"{}\" (gzip, zstd or none)", text);
}

struct CompressedWriter::State {
  util::Fd out;
  Compression compression;
  util::Sha256 tar_hash;
  util::Sha256 blob_hash;
  std::uint64_t tar_bytes = 0;
  std::uint64_t blob_bytes = 0;
  z_stream zs{};
  bool zs_open = false;
  ZSTD_CCtx* zstd = nullptr;
  std::vector<char> buf = std::vector<char>(1 << 16);
  // Output is gathered into big writes: libarchive hands over 10 KiB blocks.
  std::vector<char> pending;
  std::optional<util::Digest> tar_digest;

  ~State() {
    if (zs_open) deflateEnd(&zs);
    if (zstd) ZSTD_freeCCtx(zstd);
  }

  static constexpr std::size_t kPending = 1 << 20;

  void emit(const void* data, std::size_t size) {
    // Uncompressed, the blob is the tar: one hash serves both digests.
    if (compression != Compression::none) blob_hash.update(data, size);
    blob_bytes += size;
    if (pending.size() + size > kPending) flush();
    if (size >= kPending) {
      util::write_all(out, std::string_view(static_cast<const char*>(data), size));
      return;
    }
    const char* bytes = static_cast<const char*>(data);
    pending.insert(pending.end(), bytes, bytes + size);
  }

  void flush() {
    if (pending.empty()) return;
    util::write_all(out, std::string_view(pending.data(), pending.size()));
    pending.clear();
  }

  const util::Digest& tar() {
    if (!tar_digest) tar_digest = tar_hash.finish();
    return *tar_digest;
  }

  void deflate_some(const void* data, std::size_t size, int flush) {
    zs.next_in = static_cast<Bytef*>(const_cast<void*>(data));
    zs.avail_in = static_cast<uInt>(size);
    int r;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf.data());
      zs.avail_out = static_cast<uInt>(buf.size());
      r = deflate(&zs, flush);
      if (r == Z_STREAM_ERROR) throw Error("gzip: deflate failed");
      emit(buf.data(), buf.size() - zs.avail_out);
    } while (zs.avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
  }

  void zstd_some(const void* data, std::size_t size, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data, size, 0};
    for (;;) {
      ZSTD_outBuffer outb{buf.data(), buf.size(), 0};
      std::size_t left = ZSTD_compressStream2(zstd, &outb, &in, mode);
      if (ZSTD_isError(left)) fail("zstd: {}", ZSTD_getErrorName(left));
      emit(buf.data(), outb.pos);
      bool done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
      if (done) break;
    }
  }
};

CompressedWriter::CompressedWriter(util::Fd out, Compression compression, int level)
    : state_(std::make_unique<State>()) {
  auto& s = *state_;
  s.out = out;
  s.compression = compression;
  switch (compression) {
    case Compression::gzip:
      // windowBits 15 + 16: a gzip wrapper whose header zlib writes with mtime 0.
      if (deflateInit2(&s.zs, level ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                       Z_DEFAULT_STRATEGY) != Z_OK)
        throw Error("gzip: cannot initialise zlib");
      s.zs_open = true;
      break;
    case Compression::zstd:
      s.zstd = ZSTD_createCCtx();
      if (!s.zstd) throw Error("zstd: cannot create a context");
      ZSTD_CCtx_setParameter(s.zstd, ZSTD_c_compressionLevel, level ? level : 3);
      break;
    case Compression::none:
      break;
  }
}

CompressedWriter::~CompressedWriter() = default;

void CompressedWriter::write(const void* data, std::size_t size) {
  auto& s = *state_;
  s.tar_hash.update(data, size);
  s.tar_bytes += size;
  switch (s.compression) {
    case Compression::gzip: return s.deflate_some(data, size, Z_NO_FLUSH);
    case Compression::zstd: return s.zstd_some(data, size, ZSTD_e_continue);
    case Compression::none: return s.emit(data, size);
  }
}

void CompressedWriter::finish() {
  auto& s = *state_;
  switch (s.compression) {
    case Compression::gzip: s.deflate_some(nullptr, 0, Z_FINISH); break;
    case Compression::zstd: s.zstd_some(nullptr, 0, ZSTD_e_end); break;
    case Compression::none: break;
  }
  s.flush();
}

util::Digest CompressedWriter::diff_id() { return state_->tar(); }
util::Digest CompressedWriter::blob_digest() {
  if (state_->compression == Compression::none) return state_->tar();
  return state_->blob_hash.finish();
}
std::uint64_t CompressedWriter::uncompressed_size() const noexcept { return state_->tar_bytes; }
std::uint64_t CompressedWriter::compressed_size() const noexcept { return state_->blob_bytes; }

}  // namespace kiln::layer
