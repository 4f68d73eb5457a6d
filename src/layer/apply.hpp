// Applying a layer tarball to a directory: the extraction side of the layer
// module. The tar stream is decompressed and hashed on the fly (TarInput), and
// every entry is written beneath target_dir through root-confined lookups
// (safe_path.hpp): this is a security boundary, see apply.cpp for each rule.
#pragma once

#include <cstdint>
#include <filesystem>

#include "util/byte_source.hpp"
#include "util/digest.hpp"
#include "util/fd.hpp"

namespace kiln::layer {

/// What a ".wh." entry turns into on disk.
enum class WhiteoutMode {
  remove,   // vfs: delete the named file (and opaque dirs' old contents) from target_dir
  overlay,  // overlay layer dir: write overlayfs whiteouts / opaque markers instead
};

struct ApplyOptions {
  /// Give files the uid/gid of their tar header (ids as seen inside kiln's userns).
  bool chown = true;
  /// Only one id is mapped: skip chown altogether; everything stays the caller's.
  bool single_id = false;
  WhiteoutMode whiteout_mode = WhiteoutMode::remove;
};

struct ApplyResult {
  util::Digest diff_id;      // sha256 of the decompressed tar stream
  util::Digest blob_digest;  // sha256 of the bytes as read
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t entries = 0;
  std::uint64_t chown_skipped = 0;    // entries whose owner could not be set (unmapped id)
  std::uint64_t devices_skipped = 0;  // device nodes / fifos not created (no privilege)
};

/// Reads a layer (plain tar, gzip, zstd; bzip2/xz too) from tar_stream to EOF and
/// extracts it into the existing directory target_dir. Throws kiln::Error
/// (invalid_input) naming the entry for a malformed or hostile layer, e.g.
/// `layer entry "a/../../x": path escapes the layer`; target_dir may then be
/// half-written and must be discarded by the caller.
ApplyResult apply_layer(util::Fd tar_stream, const std::filesystem::path& target_dir,
                        const ApplyOptions& options = {});
/// The same, reading the layer from a ByteSource (e.g. a download still arriving).
ApplyResult apply_layer(util::ByteSource& tar_stream, const std::filesystem::path& target_dir,
                        const ApplyOptions& options = {});

}  // namespace kiln::layer
