// Compressing writer for layer output: takes the uncompressed tar stream, hashes
// it (diff id), compresses it (gzip via zlib, zstd, or none), hashes the result
// (blob digest) and writes it to a descriptor. Compression is done here rather
// than by libarchive's filters so the output is deterministic (no gzip timestamp)
// and both digests come from one pass.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "util/digest.hpp"
#include "util/fd.hpp"

namespace kiln::layer {

enum class Compression { gzip, zstd, none };

/// Parses "gzip", "zstd" or "none" (also "uncompressed"); throws kiln::Error(invalid_input).
Compression parse_compression(std::string_view text);

class CompressedWriter {
public:
  /// Writes to out (not owned). level 0 picks the codec's default. Throws.
  CompressedWriter(util::Fd out, Compression compression, int level = 0);
  ~CompressedWriter();
  CompressedWriter(const CompressedWriter&) = delete;
  CompressedWriter& operator=(const CompressedWriter&) = delete;

  /// Appends uncompressed bytes. Throws on write failure.
  void write(const void* data, std::size_t size);
  /// Flushes the compressor's end; no write() afterwards. Throws.
  void finish();

  util::Digest diff_id();
  util::Digest blob_digest();
  std::uint64_t uncompressed_size() const noexcept;
  std::uint64_t compressed_size() const noexcept;

  struct State;

private:
  std::unique_ptr<State> state_;
};

}  // namespace kiln::layer
