// `kiln load`: reading images into the store from a docker-archive (the classic
// layout with "<id>/layer.tar" or "<hex>.tar" members, and Docker 25's whose
// manifest.json points into an OCI layout's blobs/), an oci-archive, or an OCI
// layout directory; from a file, a directory or a pipe; gzip (or zstd, xz,
// bzip2) compressed or not. Everything is validated before the first image record
// is written: a corrupt archive leaves no new image, only unreferenced blobs and
// layers that gc collects.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"
#include "util/fd.hpp"

namespace kiln::archive {

struct LoadOptions {
  /// Extract without chown; nullopt: decided from the current id map.
  std::optional<bool> single_id;
};

/// One image loaded: its id and the names it got (empty: a dangling image).
struct LoadedImage {
  util::Digest id;
  std::vector<std::string> names;
};

/// Loads every image of the archive read from input (to EOF). label names the input in
/// errors ("stdin", a path). Throws kiln::Error "load LABEL: member "X": why": invalid_input
/// for a malformed archive, corrupt for a digest mismatch, not_found for a missing member.
std::vector<LoadedImage> load_from_fd(store::Store& store, util::Fd input, std::string_view label,
                                      const LoadOptions& options = {});

/// Loads from a path: an archive file, or a directory holding an OCI layout (or an
/// unpacked docker archive). Throws like load_from_fd.
std::vector<LoadedImage> load_from_path(store::Store& store, const std::filesystem::path& path,
                                        const LoadOptions& options = {});

/// The lines `kiln load` prints, as podman does: "Loaded image: NAME" per name, or
/// "Loaded image: sha256:<id>" for an image without one.
std::vector<std::string> loaded_lines(const std::vector<LoadedImage>& images);

}  // namespace kiln::archive
