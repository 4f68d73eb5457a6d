// `kiln save`: writing images from the store as a docker-archive (what `docker
// save` and `podman save` write: manifest.json, repositories, "<hex>.json"
// configs and "<hex>.tar" uncompressed layers), an oci-archive (a tar of an OCI
// image layout) or an oci-dir (the layout as a directory). Several images may go
// into one archive; layers they share are written once.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"
#include "util/fd.hpp"

namespace kiln::archive {

enum class SaveFormat { docker_archive, oci_archive, oci_dir };

/// Parses "docker-archive", "oci-archive" or "oci-dir"; throws kiln::Error(invalid_input).
SaveFormat parse_save_format(std::string_view text);

/// One image to save and the name to save it under (nullopt: it was named by id, so the
/// archive gives it no name, as podman and docker do).
struct SaveImage {
  store::ImageRecord image;
  std::optional<std::string> name;
};

/// Looks up what the user typed (name, short name or id prefix) in the store as every
/// command does (lookup.hpp); throws kiln::Error(not_found) "no such image: X".
SaveImage resolve_save_image(const store::Store& store, std::string_view text,
                             const std::vector<std::string>& search_registries = {"docker.io"});

/// Writes the images as an archive (docker_archive or oci_archive) to out, which is
/// written sequentially (a pipe is fine). Throws; out may then hold a partial archive.
void save_to_fd(const store::Store& store, const std::vector<SaveImage>& images, SaveFormat format,
                util::Fd out);

/// Writes the images to target: a file for the archive formats, a directory for oci-dir.
/// Everything is written to a temporary name beside target and renamed into place, so a
/// failed save leaves nothing behind. An existing file is replaced; an oci-dir target
/// must not exist or be an empty directory.
void save_to_path(const store::Store& store, const std::vector<SaveImage>& images, SaveFormat format,
                  const std::filesystem::path& target);

}  // namespace kiln::archive
