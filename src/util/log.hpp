// Diagnostics on stderr: a process-wide level (--log-level), warnings printed
// once per distinct text as "kiln: warning: ...", debug lines only at debug.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace kiln::util {

enum class LogLevel { error, warn, info, debug };

/// Parses "error|warn|warning|info|debug"; throws kiln::Error(invalid_input).
LogLevel parse_log_level(std::string_view text);
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;

void log_line(LogLevel level, std::string_view message);

/// Prints "kiln: warning: <message>" once per process for each distinct message.
void warn_once(std::string_view message);

template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  log_line(LogLevel::warn, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  if (log_level() >= LogLevel::info) log_line(LogLevel::info, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  if (log_level() >= LogLevel::debug) log_line(LogLevel::debug, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace kiln::util
