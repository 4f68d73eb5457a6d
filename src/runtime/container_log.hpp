// The container log in podman's k8s-file format (what the detached monitor
// writes into containers/<id>/ctr.log and `logs` reads):
//   "<RFC 3339 time with nanoseconds> <stdout|stderr> <F|P> <text>\n"
// F ends a line of output; P marks a piece the next record of that stream
// continues (output that did not end in a newline when it was read).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "util/fd.hpp"

namespace kiln::runtime {

/// One record of the log.
struct LogLine {
  std::chrono::system_clock::time_point time;
  std::string stream;  ///< "stdout" or "stderr"
  bool partial = false;
  std::string text;    ///< without the newline
};

/// Parses one line of the file (without its newline); nullopt when malformed.
std::optional<LogLine> parse_log_line(std::string_view line);
/// Renders a record with its newline.
std::string format_log_line(const LogLine& line);

/// Appends output to a log file as it arrives.
class LogWriter {
public:
  /// Opens (creating, appending) path; throws.
  explicit LogWriter(const std::filesystem::path& path);
  /// Writes data read from stream: one F record per complete line, a P record for the rest.
  void write(std::string_view stream, std::string_view data);

private:
  util::UniqueFd fd_;
};

}  // namespace kiln::runtime
