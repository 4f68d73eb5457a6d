// TarInput: reads a layer blob (plain tar, gzip, zstd, bzip2 or xz) from a
// descriptor or a ByteSource in one pass and hashes it twice on the way: the bytes as read (the
// blob digest) and the decompressed tar stream (the diff id). Two libarchive
// readers are chained: the outer one ("raw" format with decompression filters)
// turns the blob into the tar stream; the inner one (tar formats only, no
// filters) parses that stream into entries.
#pragma once

#include <cstdint>
#include <memory>

#include "util/byte_source.hpp"
#include "util/digest.hpp"
#include "util/fd.hpp"

struct archive;

namespace kiln::layer {

class TarInput {
public:
  /// Starts reading fd (not owned; read sequentially to EOF). Throws kiln::Error
  /// (invalid_input) when the compression is not recognised.
  explicit TarInput(util::Fd fd);
  /// Starts reading source (not owned; it must outlive this object) the same way.
  explicit TarInput(util::ByteSource& source);
  ~TarInput();
  TarInput(const TarInput&) = delete;
  TarInput& operator=(const TarInput&) = delete;

  /// The inner (tar) reader: use archive_read_next_header / archive_read_data on it.
  struct archive* tar() noexcept;
  /// Call after the last entry: drains whatever follows the end-of-archive marker
  /// (padding, trailing bytes) through both hashes.
  void finish();

  util::Digest blob_digest();
  util::Digest diff_id();
  std::uint64_t compressed_size() const noexcept;
  std::uint64_t uncompressed_size() const noexcept;

  /// The message libarchive gives for the inner reader, with the outer's when useful.
  std::string error_text();

  struct State;

private:
  void open(util::ByteSource& source);
  std::unique_ptr<State> state_;
};

}  // namespace kiln::layer
