// Reading the log back: records parsed, filtered by time, cut to the last N
// lines, and written to stdout or stderr; follow mode reads what is appended.
#include "runtime/logs.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <charconv>

#include "runtime/container_log.hpp"
#include "runtime/lifecycle.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::runtime {
namespace {

/// A record with the time as written in the file (what --timestamps prints).
struct Record {
  std::string time_text;
  LogLine line;
};

/// Turns records into output, remembering per stream whether a line is open (P).
class Printer {
public:
  Printer(const LogOptions& options, util::Fd out, util::Fd err) : options_(options), out_(out), err_(err) {}

  void print(const Record& r) {
    if (options_.since && r.line.time < *options_.since) return;
    if (options_.until && r.line.time > *options_.until) return;
    bool is_err = r.line.stream == "stderr";
    bool& open = is_err ? err_open_ : out_open_;
    std::string text;
    if (options_.timestamps && !open) text = r.time_text + " ";
    text += r.line.text;
    if (!r.line.partial) text += '\n';
    open = r.line.partial;
    try {
      util::write_all(is_err ? err_ : out_, text);
    } catch (const std::exception&) {
      util::rethrow_with("write the log");
    }
  }

private:
  const LogOptions& options_;
  util::Fd out_, err_;
  bool out_open_ = false, err_open_ = false;
};

/// Parses complete lines from buffer (consumed), leaving an unfinished one in place.
std::vector<Record> take_records(std::string& buffer) {
  std::vector<Record> records;
  std::size_t start = 0;
  for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n', start)) {
    std::string_view text(buffer.data() + start, nl - start);
    start = nl + 1;
    if (auto line = parse_log_line(text)) records.push_back({std::string(text.substr(0, text.find(' '))), std::move(*line)});
  }
  buffer.erase(0, start);
  return records;
}

/// The index of the first record of the last n lines. A line is P records ended by an F
/// of the same stream; a stream's trailing P records (output without a final newline)
/// are a line too.
std::size_t tail_start(const std::vector<Record>& records, std::size_t n) {
  std::size_t ended = 0;
  bool out_seen = false, err_seen = false;  // a later record of that stream exists
  for (std::size_t i = records.size(); i > 0; --i) {
    const LogLine& line = records[i - 1].line;
    bool& seen = line.stream == "stderr" ? err_seen : out_seen;
    bool ends_line = !line.partial || !seen;
    seen = true;
    if (ends_line && ++ended > n) return i;
  }
  return 0;
}

std::string read_some(util::Fd fd) {
  std::string out;
  char chunk[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw util::sys_error("read the container log");
    if (n == 0) return out;
    out.append(chunk, static_cast<std::size_t>(n));
  }
}

bool still_running(store::Store& store, const std::string& id, util::UniqueFd& monitor) {
  try {
    auto state = state_of(reconciled(store, id));
    if (state.status != ContainerStatus::running) return false;
    if (!monitor) {
      monitor = util::UniqueFd{util::adopt, static_cast<int>(::syscall(SYS_pidfd_open, state.monitor_pid, 0))};
      if (monitor && !process_alive(state.monitor_pid, state.monitor_start_time)) return false;
    }
    return true;
  } catch (const std::exception& e) {
    if (util::is_not_found(e)) return false;  // removed (--rm) as it exited
    throw;
  }
}

}  // namespace

Clock::time_point parse_log_time(std::string_view text, Clock::time_point now) {
  if (auto t = util::parse_rfc3339(text)) return *t;
  auto bad = [&] { return Error(fmt::format("invalid time \"{}\": want RFC 3339, a duration (10m) or Unix seconds", text),
                                ErrorKind::invalid_input); };
  if (text.empty()) throw bad();
  // Unix seconds with an optional fraction.
  if (text.find_first_not_of("0123456789.") == std::string_view::npos) {
    double seconds = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size()) throw bad();
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  }
  // A Go-style duration: 1h30m, 10m, 90s, 500ms.
  std::chrono::nanoseconds total{0};
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t digits = i;
    while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) ++digits;
    if (digits == i) throw bad();
    double value = std::stod(std::string(text.substr(i, digits - i)));
    std::size_t unit_end = digits;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) ++unit_end;
    std::string_view unit = text.substr(digits, unit_end - digits);
    double scale = unit == "h" ? 3600e9 : unit == "m" ? 60e9 : unit == "s" ? 1e9 : unit == "ms" ? 1e6
                 : unit == "us" ? 1e3 : unit == "ns" ? 1 : -1;
    if (scale < 0) throw bad();
    total += std::chrono::nanoseconds(static_cast<std::int64_t>(value * scale));
    i = unit_end;
  }
  return now - std::chrono::duration_cast<Clock::duration>(total);
}

void print_logs(store::Store& store, const store::ContainerRecord& record, const LogOptions& options, util::Fd out,
                util::Fd err) {
  auto paths = container_paths(store, record.id);
  Printer printer(options, out, err);
  util::UniqueFd file = util::try_open_read(paths.log);
  util::UniqueFd inotify;
  if (options.follow) {
    // Watch the directory: the log may not exist yet when the container just started.
    inotify = util::UniqueFd{util::adopt, ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)};
    if (!inotify) throw util::sys_error("inotify_init1");
    if (::inotify_add_watch(inotify.get(), paths.dir.c_str(), IN_MODIFY | IN_CREATE) < 0)
      throw util::sys_error("inotify_add_watch {}", paths.dir.string());
  }
  std::string buffer;
  if (file) buffer = read_some(file);
  auto records = take_records(buffer);
  std::size_t first = options.tail ? tail_start(records, *options.tail) : 0;
  for (std::size_t i = first; i < records.size(); ++i) printer.print(records[i]);
  if (!options.follow) return;

  util::UniqueFd monitor;
  bool running = still_running(store, record.id, monitor);
  for (;;) {
    if (!file) file = util::try_open_read(paths.log);
    if (file) {
      buffer += read_some(file);
      for (const auto& r : take_records(buffer)) printer.print(r);
    }
    if (!running) return;
    struct pollfd fds[2] = {{inotify.get(), POLLIN, 0}, {monitor ? monitor.get() : -1, POLLIN, 0}};
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) throw util::sys_error("poll");
    if (fds[0].revents & POLLIN) {
      char events[4096];
      while (::read(inotify.get(), events, sizeof events) > 0) {
      }
    }
    // One more read after the monitor is gone picks up its last records.
    if (fds[1].revents || !still_running(store, record.id, monitor)) running = false;
  }
}

}  // namespace kiln::runtime
