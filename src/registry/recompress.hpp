// Re-encoding a stored layer blob with another compression for push: the blob
// is decompressed and the very same tar bytes compressed again, so the layer's
// diff id (and the image config that lists it) does not change.
#pragma once

#include <cstdint>
#include <filesystem>

#include "image/media_types.hpp"
#include "util/digest.hpp"

namespace kiln::registry {

/// The re-encoded blob: digest and size of what was written.
struct Recompressed {
  util::Digest digest;
  std::uint64_t size = 0;
  util::Digest diff_id;
};

/// Decompresses `from` (compressed as `from_compression`) and writes it to `to` compressed
/// as `to_compression`. Throws kiln::Error(corrupt) for a damaged stream.
Recompressed recompress_blob(const std::filesystem::path& from, image::media_type::Compression from_compression,
                             const std::filesystem::path& to, image::media_type::Compression to_compression);

}  // namespace kiln::registry
