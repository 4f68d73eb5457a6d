// Test helper shared by the archive unit tests: a directory tree of small files
// written under a temporary directory and turned into a layer tarball.
#pragma once

#include <fcntl.h>

#include <filesystem>
#include <map>
#include <string>

#include "layer/create.hpp"
#include "util/fs.hpp"

namespace kiln::test {

/// Writes `files` ("path" -> content) into DIR/NAME.tree and tars them with layer::create_layer
/// into DIR/NAME+SUFFIX; with fixed_mtimes every mtime is the epoch, so the same files give the
/// same bytes. Returns the tarball's path; throws what the file calls throw.
inline std::filesystem::path make_tree_layer(const std::filesystem::path& dir, const std::string& name,
                                             const std::map<std::string, std::string>& files,
                                             layer::Compression compression, const std::string& suffix,
                                             bool fixed_mtimes) {
  namespace fs = std::filesystem;
  fs::path tree = dir / (name + ".tree");
  util::make_dirs(tree);
  for (const auto& [path, content] : files) {
    util::make_dirs((tree / path).parent_path());
    auto fd = util::open_file(tree / path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    util::write_all(fd, content);
  }
  if (fixed_mtimes) {
    for (auto& entry : fs::recursive_directory_iterator(tree)) fs::last_write_time(entry.path(), fs::file_time_type{});
    fs::last_write_time(tree, fs::file_time_type{});
  }
  fs::path out = dir / (name + suffix);
  auto fd = util::open_file(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  layer::CreateOptions options;
  options.compression = compression;
  layer::create_layer(tree, fd, options);
  return out;
}

}  // namespace kiln::test
