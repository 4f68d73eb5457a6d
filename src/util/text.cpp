// Text helpers: sizes, durations and times in docker's formats.
#include "util/text.hpp"

#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/json.hpp"

namespace kiln::util {

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = text.find(sep, start);
    out.emplace_back(text.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::optional<std::pair<std::string, std::string>> split_once(std::string_view text, char sep) {
  size_t pos = text.find(sep);
  if (pos == std::string_view::npos) return std::nullopt;
  return std::pair{std::string(text.substr(0, pos)), std::string(text.substr(pos + 1))};
}

std::string_view trim(std::string_view text) {
  const char* ws = " \t\r\n\f\v";
  size_t b = text.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = text.find_last_not_of(ws);
  return text.substr(b, e - b + 1);
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string ascii_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool starts_with(std::string_view text, std::string_view prefix) { return text.starts_with(prefix); }

std::string human_size(std::uint64_t bytes) {
  // go-units HumanSizeWithPrecision(size, 3): %.4g of the value in decimal units.
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000.0 && unit < 6) {
    value /= 1000.0;
    ++unit;
  }
  return fmt::format("{:.3g} {}", value, kUnits[unit]);
}

std::string human_ago(std::chrono::system_clock::time_point when,
                      std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  double secs = duration_cast<duration<double>>(now - when).count();
  if (secs < 0) secs = 0;
  std::string d;
  if (secs < 1) d = "Less than a second";
  else if (secs < 2) d = "1 second";
  else if (secs < 60) d = fmt::format("{} seconds", static_cast<long>(secs));
  else if (secs / 60 < 2) d = "About a minute";
  else if (secs / 60 < 60) d = fmt::format("{} minutes", static_cast<long>(secs / 60));
  else if (secs / 3600 < 2) d = "About an hour";
  else if (secs / 3600 < 48) d = fmt::format("{} hours", static_cast<long>(secs / 3600));
  else if (secs / 3600 < 24 * 7 * 2) d = fmt::format("{} days", static_cast<long>(secs / 86400));
  else if (secs / 3600 < 24 * 30 * 2) d = fmt::format("{} weeks", static_cast<long>(secs / 86400 / 7));
  else if (secs / 3600 < 24 * 365 * 2) d = fmt::format("{} months", static_cast<long>(secs / 86400 / 30));
  else d = fmt::format("{} years", static_cast<long>(secs / 86400 / 365));
  return d + " ago";
}

std::string rfc3339(std::chrono::system_clock::time_point when) {
  using namespace std::chrono;
  auto ns = duration_cast<nanoseconds>(when.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  long frac = static_cast<long>(ns % 1000000000);
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1,
                                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (frac) {
    std::string f = fmt::format("{:09}", frac);
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "Z";
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  std::tm tm{};
  int consumed = 0;
  std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  long long nanos = 0;
  size_t i = static_cast<size_t>(consumed);
  if (i < s.size() && s[i] == '.') {
    ++i;
    long long scale = 100000000;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      nanos += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
  }
  long offset = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
  } else if (i >= s.size() || (s[i] != 'Z' && s[i] != 'z')) {
    return std::nullopt;
  }
  std::time_t secs = timegm(&tm) - offset;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos)));
}

Json parse_json(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    // nlohmann's message starts with "[json.exception.parse_error.101] "; keep the rest.
    std::string detail = e.what();
    if (auto pos = detail.find("] "); pos != std::string::npos) detail = detail.substr(pos + 2);
    fail(ErrorKind::invalid_input, "{}: invalid JSON: {}", what, detail);
  }
}

}  // namespace kiln::util
