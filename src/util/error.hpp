// Errors: kiln's own failures (kiln::Error, optionally located in a file),
// system-call failures (std::system_error via sys_error), context added on the
// way up (rethrow_with, std::throw_with_nested), and the one-line rendering
// main() prints. Kinds are tested with predicates, never by matching what().
#pragma once

#include <cerrno>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fmt/format.h>

namespace kiln {

/// What kind of failure an Error is; lets callers test without parsing text.
enum class ErrorKind {
  generic,
  not_found,       // an image, container, layer, blob, file the user named does not exist
  invalid_input,   // bad user input: reference, flag value, Dockerfile, archive, config
  conflict,        // name in use, image in use by a container, lock contention
  unauthorized,    // registry refused credentials
  corrupt,         // digest mismatch, truncated record
  not_executable,  // container command exists but cannot be executed (exit 126)
  command_not_found,  // container command not found (exit 127)
};

/// A location in a user-supplied file: Dockerfile, config, etc. line/col 1-based, 0 = unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

/// kiln's own failure. what() is the message without location; describe() adds it.
class Error : public std::runtime_error {
public:
  explicit Error(std::string message, ErrorKind kind = ErrorKind::generic)
      : std::runtime_error(std::move(message)), kind_(kind) {}
  Error(SourceLocation where, std::string message, ErrorKind kind = ErrorKind::invalid_input)
      : std::runtime_error(std::move(message)), kind_(kind), where_(std::move(where)) {}

  ErrorKind kind() const noexcept { return kind_; }
  const SourceLocation& where() const noexcept { return where_; }
  /// "file:line:col: message" when located, else the message.
  std::string describe() const;

private:
  ErrorKind kind_;
  SourceLocation where_;
};

/// Throws kiln::Error of the given kind with a formatted message.
template <typename... Args>
[[noreturn]] void fail(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...), kind);
}
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...), ErrorKind::generic);
}

namespace util {

/// A std::system_error for errno (or the given code) with "call object" as its message,
/// e.g. sys_error("open {}", path) -> "open /x: No such file or directory".
template <typename... Args>
std::system_error sys_error(fmt::format_string<Args...> format, Args&&... args) {
  int code = errno;
  return std::system_error(code, std::generic_category(),
                           fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
std::system_error sys_error_code(int code, fmt::format_string<Args...> format, Args&&... args) {
  return std::system_error(code, std::generic_category(),
                           fmt::format(format, std::forward<Args>(args)...));
}

/// Inside a catch block: rethrows the current exception nested in an Error carrying
/// the context, e.g. rethrow_with("pull {}", ref). The kind of the inner error is kept.
template <typename... Args>
[[noreturn]] void rethrow_with(fmt::format_string<Args...> format, Args&&... args);

/// Renders an exception and everything nested in it as one line, outer context first:
/// "pull a: GET /v2/a/manifests/latest: 401 Unauthorized".
std::string describe(const std::exception& e);
std::string describe(std::exception_ptr e);

/// The innermost kiln::Error kind in a nested chain (generic if none); system errors
/// with ENOENT count as not_found.
ErrorKind kind_of(const std::exception& e);
bool is_not_found(const std::exception& e);
/// The errno of the innermost std::system_error, or 0.
int errno_of(const std::exception& e);

[[noreturn]] void rethrow_with_message(std::string context);

template <typename... Args>
[[noreturn]] void rethrow_with(fmt::format_string<Args...> format, Args&&... args) {
  rethrow_with_message(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace util
}  // namespace kiln
