// .dockerignore matching with Docker's rules: patterns are cleaned like Go's
// filepath.Clean with a leading '/' dropped; '*' and '?' stop at '/', '**'
// spans any number of directories, '[...]' classes and '\' escapes work as in
// filepath.Match; '!' re-includes; the last matching pattern wins; a pattern
// that matches a directory excludes everything below it. Comments start with
// '#' in column one. Docker still sends the Dockerfile and .dockerignore even
// when they are excluded: the context code applies that rule, not this one.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::dockerfile {

/// A compiled set of .dockerignore patterns.
class DockerIgnore {
public:
  DockerIgnore() = default;
  /// Compiles cleaned patterns (as parse() produces); throws kiln::Error(invalid_input)
  /// for "!" alone or a malformed class such as "[a".
  explicit DockerIgnore(std::vector<std::string> patterns);
  /// Reads .dockerignore text: comments and blank lines dropped, each pattern trimmed
  /// and cleaned, "/" prefix removed. Throws like the constructor.
  static DockerIgnore parse(std::string_view text);

  /// Whether path (context-relative, '/'-separated, no leading "./") is excluded: the
  /// last pattern matching it or one of its parent directories decides.
  bool excluded(std::string_view path) const;
  /// For an excluded directory: whether some '!' pattern might re-include something
  /// below it, so a context walker must still descend into it.
  bool may_include_under(std::string_view dir) const;
  /// Whether any pattern is an exception ('!').
  bool has_exceptions() const { return has_exceptions_; }
  /// The cleaned patterns, '!' kept.
  const std::vector<std::string>& patterns() const { return texts_; }

  /// One compiled pattern (defined in dockerignore.cpp).
  struct Pattern;

private:
  std::vector<std::shared_ptr<const Pattern>> compiled_;
  std::vector<std::string> texts_;
  bool has_exceptions_ = false;
};

/// Go's path.Clean: "a//b/../c/" -> "a/c", "" -> ".", "/.." -> "/".
std::string clean_path(std::string_view path);

/// The Dockerfile-specific ignore file Docker reads first: "<dockerfile>.dockerignore"
/// in the Dockerfile's directory ("dir/app.Dockerfile" -> "dir/app.Dockerfile.dockerignore").
/// The context's own ".dockerignore" applies only when that file does not exist.
std::string dockerfile_ignore_name(std::string_view dockerfile_path);

}  // namespace kiln::dockerfile
