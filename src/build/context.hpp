// The build context: the directory COPY and ADD read from, made from what the
// user named (a directory, a tarball, a tarball on stdin, a git repository),
// the Dockerfile text, the .dockerignore rules, and the content digests of
// context files for cache keys. Digests are remembered per file by (inode,
// size, mtime, ctime) in the store's cache, so a warm rebuild hashes nothing.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "build/build.hpp"
#include "dockerfile/dockerignore.hpp"
#include "store/staging.hpp"
#include "store/store.hpp"

namespace kiln::build {

namespace fs = std::filesystem;

class BuildContext {
public:
  /// Materialises the context (tar and git sources are unpacked into the store's tmp/)
  /// and reads the Dockerfile and its ignore file. Throws kiln::Error naming the source.
  static BuildContext open(store::Store& store, const BuildOptions& options);
  BuildContext(BuildContext&&) noexcept = default;
  ~BuildContext();

  const fs::path& dir() const noexcept { return dir_; }
  const std::string& dockerfile_text() const noexcept { return dockerfile_text_; }
  /// The Dockerfile's name for error locations ("Dockerfile", "app/Containerfile").
  const std::string& dockerfile_name() const noexcept { return dockerfile_name_; }
  /// Whether a context-relative path is excluded by .dockerignore.
  bool excluded(std::string_view rel) const;

  /// The context-relative paths a COPY source names: the cleaned path, or every match
  /// of a glob, excluded paths left out. Throws kiln::Error(invalid_input) for a path
  /// outside the context, not_found when nothing matches.
  std::vector<std::string> resolve(std::string_view source) const;
  /// Calls fn for rel and, for a directory, everything below it that is not excluded,
  /// parents before children, names sorted.
  void walk(const std::string& rel, const std::function<void(const std::string&, const struct stat&)>& fn) const;
  /// A digest of the paths, modes, sizes, link targets and contents below rels.
  std::string digest(const std::vector<std::string>& rels);
  /// Writes the remembered file digests back to the store (best effort).
  void save_hashes();

private:
  BuildContext() = default;
  std::string file_hash(const std::string& rel, const struct stat& st);

  struct HashEntry {
    std::uint64_t inode = 0, size = 0;
    std::int64_t mtime_ns = 0, ctime_ns = 0;
    std::string hex;
  };
  fs::path dir_;
  std::string dockerfile_text_;
  std::string dockerfile_name_;
  dockerfile::DockerIgnore ignore_;
  std::optional<store::StagingDir> staging_;  // unpacked tar or git context
  std::map<std::string, HashEntry> hashes_;
  fs::path hash_file_;
  bool hashes_changed_ = false;
};

/// Splits a git context "url#ref:subdir" into its parts; nullopt when text is no git source.
struct GitSource {
  std::string url, ref, subdir;
};
std::optional<GitSource> parse_git_source(std::string_view text);

}  // namespace kiln::build
