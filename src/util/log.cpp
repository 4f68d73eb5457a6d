// Logging to stderr.
#include "util/log.hpp"

#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>

#include "util/error.hpp"

namespace kiln::util {
namespace {
std::atomic<LogLevel> g_level{LogLevel::warn};
}

LogLevel parse_log_level(std::string_view text) {
  if (text == "error") return LogLevel::error;
  if (text == "warn" || text == "warning") return LogLevel::warn;
  if (text == "info") return LogLevel::info;
  if (text == "debug" || text == "trace") return LogLevel::debug;
  fail(ErrorKind::invalid_input, "invalid log level \"{}\" (want error, warn, info or debug)", text);
}

void set_log_level(LogLevel level) noexcept { g_level = level; }
LogLevel log_level() noexcept { return g_level; }

void log_line(LogLevel level, std::string_view message) {
  if (level > g_level.load()) return;
  const char* tag = level == LogLevel::error ? ""
                    : level == LogLevel::warn ? "warning: "
                    : level == LogLevel::info ? "info: "
                                              : "debug: ";
  std::string line = fmt::format("kiln: {}{}\n", tag, message);
  // One write(2) so lines from concurrent processes do not interleave.
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

void warn_once(std::string_view message) {
  static std::mutex mu;
  static std::set<std::string, std::less<>> seen;
  {
    std::lock_guard lock(mu);
    if (!seen.emplace(message).second) return;
  }
  log_line(LogLevel::warn, message);
}

}  // namespace kiln::util
