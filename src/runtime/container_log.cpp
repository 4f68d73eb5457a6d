// k8s-file log records: formatting, parsing, and the appending writer.
#include "runtime/container_log.hpp"

#include <fcntl.h>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::runtime {

std::optional<LogLine> parse_log_line(std::string_view line) {
  auto first = line.find(' ');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = line.find(' ', first + 1);
  if (second == std::string_view::npos || second + 2 > line.size()) return std::nullopt;
  LogLine out;
  auto time = util::parse_rfc3339(line.substr(0, first));
  if (!time) return std::nullopt;
  out.time = *time;
  out.stream = std::string(line.substr(first + 1, second - first - 1));
  char tag = line[second + 1];
  if (tag != 'F' && tag != 'P') return std::nullopt;
  out.partial = tag == 'P';
  if (second + 2 < line.size()) out.text = std::string(line.substr(second + 3));
  return out;
}

std::string format_log_line(const LogLine& line) {
  return fmt::format("{} {} {} {}\n", util::rfc3339(line.time), line.stream, line.partial ? 'P' : 'F', line.text);
}

LogWriter::LogWriter(const std::filesystem::path& path)
    : fd_(util::open_file(path, O_WRONLY | O_CREAT | O_APPEND, 0600)) {}

void LogWriter::write(std::string_view stream, std::string_view data) {
  std::string out;
  auto now = std::chrono::system_clock::now();
  while (!data.empty()) {
    auto nl = data.find('\n');
    LogLine line{now, std::string(stream), nl == std::string_view::npos,
                 std::string(data.substr(0, nl == std::string_view::npos ? data.size() : nl))};
    out += format_log_line(line);
    data.remove_prefix(nl == std::string_view::npos ? data.size() : nl + 1);
  }
  util::write_all(fd_, out);
}

}  // namespace kiln::runtime
