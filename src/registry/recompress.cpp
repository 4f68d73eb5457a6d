// recompress_blob (see recompress.hpp): zlib for gzip (every member of a
// multi-member stream), libzstd's streaming decoder for zstd, and the layer
// module's CompressedWriter for the output side.
#include "registry/recompress.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <functional>
#include <memory>
#include <vector>

#include "layer/compress.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::registry {

namespace {

namespace media_type = image::media_type;
using Sink = std::function<void(const void*, std::size_t)>;
constexpr std::size_t kBuffer = 256 * 1024;

std::size_t read_some(util::Fd in, std::vector<unsigned char>& buffer) {
  for (;;) {
    ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) throw util::sys_error("read layer blob");
  }
}

void inflate_gzip(util::Fd in, const Sink& sink) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 32) != Z_OK) fail("inflateInit2 failed");
  std::unique_ptr<z_stream, void (*)(z_stream*)> guard(&stream, [](z_stream* s) { inflateEnd(s); });
  std::vector<unsigned char> input(kBuffer), output(kBuffer);
  bool ended = false;
  for (;;) {
    std::size_t got = read_some(in, input);
    if (got == 0) break;
    stream.next_in = input.data();
    stream.avail_in = static_cast<uInt>(got);
    while (stream.avail_in > 0) {
      if (ended) {
        // Another gzip member follows the previous one.
        if (inflateReset(&stream) != Z_OK) fail(ErrorKind::corrupt, "gzip: reset failed");
        ended = false;
      }
      stream.next_out = output.data();
      stream.avail_out = static_cast<uInt>(output.size());
      int rc = inflate(&stream, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        fail(ErrorKind::corrupt, "gzip: {}", stream.msg ? stream.msg : "damaged stream");
      sink(output.data(), output.size() - stream.avail_out);
      if (rc == Z_STREAM_END) ended = true;
      if (rc == Z_BUF_ERROR && stream.avail_out == output.size()) break;
    }
  }
  if (!ended) fail(ErrorKind::corrupt, "gzip: stream truncated");
}

void decompress_zstd(util::Fd in, const Sink& sink) {
  std::unique_ptr<ZSTD_DStream, std::size_t (*)(ZSTD_DStream*)> stream(ZSTD_createDStream(), ZSTD_freeDStream);
  if (!stream) fail("ZSTD_createDStream failed");
  std::vector<unsigned char> input(kBuffer), output(ZSTD_DStreamOutSize());
  std::size_t last = 1;
  for (;;) {
    std::size_t got = read_some(in, input);
    if (got == 0) break;
    ZSTD_inBuffer source{input.data(), got, 0};
    while (source.pos < source.size) {
      ZSTD_outBuffer target{output.data(), output.size(), 0};
      last = ZSTD_decompressStream(stream.get(), &target, &source);
      if (ZSTD_isError(last)) fail(ErrorKind::corrupt, "zstd: {}", ZSTD_getErrorName(last));
      sink(output.data(), target.pos);
    }
  }
  if (last != 0) fail(ErrorKind::corrupt, "zstd: stream truncated");
}

void copy_plain(util::Fd in, const Sink& sink) {
  std::vector<unsigned char> buffer(kBuffer);
  while (std::size_t got = read_some(in, buffer)) sink(buffer.data(), got);
}

layer::Compression to_layer(media_type::Compression compression) {
  switch (compression) {
    case media_type::Compression::gzip: return layer::Compression::gzip;
    case media_type::Compression::zstd: return layer::Compression::zstd;
    case media_type::Compression::none: return layer::Compression::none;
  }
  return layer::Compression::none;
}

}  // namespace

Recompressed recompress_blob(const std::filesystem::path& from, media_type::Compression from_compression,
                             const std::filesystem::path& to, media_type::Compression to_compression) {
  try {
    util::UniqueFd in = util::open_read(from);
    util::UniqueFd out = util::open_file(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    layer::CompressedWriter writer(out, to_layer(to_compression));
    Sink sink = [&](const void* data, std::size_t size) {
      if (size) writer.write(data, size);
    };
    switch (from_compression) {
      case media_type::Compression::gzip: inflate_gzip(in, sink); break;
      case media_type::Compression::zstd: decompress_zstd(in, sink); break;
      case media_type::Compression::none: copy_plain(in, sink); break;
    }
    writer.finish();
    if (::fsync(out.get()) < 0) throw util::sys_error("fsync {}", to.string());
    return Recompressed{writer.blob_digest(), writer.compressed_size(), writer.diff_id()};
  } catch (...) {
    util::rethrow_with("recompress {}", from.string());
  }
}

}  // namespace kiln::registry
