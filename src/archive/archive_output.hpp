// Where `kiln save` writes members: a tar stream (docker-archive, oci-archive) on a
// descriptor, written sequentially so it may be a pipe, or a directory (oci-dir).
// A member's size is declared up front and its bytes streamed in, so no layer is
// ever held in memory. Parent directories get entries of their own, as docker and
// podman write them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "util/fd.hpp"

namespace kiln::archive {

class ArchiveOutput {
public:
  virtual ~ArchiveOutput() = default;
  /// Adds a whole member. Throws.
  void add(std::string_view name, std::string_view data) {
    begin(name, data.size());
    write(data.data(), data.size());
    end();
  }
  /// Starts a member of exactly size bytes, filled by write() and closed by end().
  virtual void begin(std::string_view name, std::uint64_t size) = 0;
  virtual void write(const void* data, std::size_t size) = 0;
  /// Throws when fewer or more bytes than declared were written.
  virtual void end() = 0;
  /// Completes the output (tar end marker, fsync). Throws.
  virtual void finish() = 0;
};

/// A tar (pax, ustar where it fits) written to out (not owned).
std::unique_ptr<ArchiveOutput> tar_output(util::Fd out);
/// Files below dir (which must exist and be empty).
std::unique_ptr<ArchiveOutput> dir_output(const std::filesystem::path& dir);

}  // namespace kiln::archive
