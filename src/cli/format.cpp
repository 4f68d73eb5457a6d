// Template rendering and column alignment for listing commands.
#include "cli/format.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::cli {
namespace {

constexpr size_t kMinWidth = 12;
constexpr size_t kPadding = 2;

// Display width of UTF-8 text (code points; good enough for our output).
size_t width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string unescape(std::string_view t) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\\' && i + 1 < t.size()) {
      if (t[i + 1] == 't') { out += '\t'; ++i; continue; }
      if (t[i + 1] == 'n') { out += '\n'; ++i; continue; }
    }
    out += t[i];
  }
  return out;
}

std::string scalar_text(const Json& v) {
  if (v.is_null()) return "<no value>";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number_unsigned()) return std::to_string(v.get<unsigned long long>());
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  if (v.is_array()) {
    // Go prints slices as [a b c].
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + scalar_text(v[i]);
    return out + "]";
  }
  // Go prints maps as map[k:v k2:v2], keys sorted.
  std::string out = "map[";
  bool first = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    out += (first ? "" : " ") + it.key() + ":" + scalar_text(it.value());
    first = false;
  }
  return out + "]";
}

// Splits a template action into words, keeping "quoted strings" whole.
std::vector<std::string> words_of(std::string_view action) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < action.size()) {
    while (i < action.size() && std::isspace(static_cast<unsigned char>(action[i]))) ++i;
    if (i >= action.size()) break;
    if (action[i] == '"') {
      size_t end = action.find('"', i + 1);
      if (end == std::string_view::npos) fail(ErrorKind::invalid_input, "template: unterminated string in \"{}\"", action);
      out.emplace_back(action.substr(i, end - i + 1));
      i = end + 1;
    } else {
      size_t end = i;
      while (end < action.size() && !std::isspace(static_cast<unsigned char>(action[end]))) ++end;
      out.emplace_back(action.substr(i, end - i));
      i = end;
    }
  }
  return out;
}

Json resolve(const Json& object, std::string_view path, std::string_view action) {
  if (path == ".") return object;
  if (path.empty() || path[0] != '.')
    fail(ErrorKind::invalid_input, "template: unexpected \"{}\" in {{{{{}}}}}", path, action);
  const Json* cur = &object;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t end = path.find('.', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string key(path.substr(pos, end - pos));
    if (!cur->is_object() || !cur->contains(key)) {
      // A misspelt top-level field is an error, as in Go's templates over podman's
      // structs. Deeper down, JSON omits empty optional fields (Config.Healthcheck,
      // Config.OnBuild, ...) that exist as nil in podman's structs: those read as nil.
      if (cur == &object) fail(ErrorKind::invalid_input, "template: can't evaluate field {} in {{{{{}}}}}", key, action);
      return Json();
    }
    cur = &(*cur)[key];
    pos = end + 1;
  }
  return *cur;
}

std::string evaluate(const Json& object, std::string_view action) {
  auto words = words_of(action);
  if (words.empty()) fail(ErrorKind::invalid_input, "template: empty action {{{{}}}}");
  const std::string& fn = words[0];
  auto arg = [&](size_t i) -> Json {
    if (i >= words.size()) fail(ErrorKind::invalid_input, "template: {} needs an argument", fn);
    const std::string& w = words[i];
    if (w.size() >= 2 && w.front() == '"') return Json(w.substr(1, w.size() - 2));
    return resolve(object, w, action);
  };
  if (fn[0] == '.') return scalar_text(resolve(object, fn, action));
  if (fn == "json") return arg(1).dump();
  if (fn == "upper" || fn == "lower") {
    std::string s = scalar_text(arg(1));
    std::transform(s.begin(), s.end(), s.begin(),
                   [&](unsigned char c) { return fn == "upper" ? std::toupper(c) : std::tolower(c); });
    return s;
  }
  if (fn == "index") {
    Json m = arg(1);
    Json k = arg(2);
    if (m.is_object() && k.is_string() && m.contains(k.get<std::string>())) return scalar_text(m[k.get<std::string>()]);
    if (m.is_array() && words.size() > 2) {
      size_t idx = std::stoul(words[2]);
      if (idx < m.size()) return scalar_text(m[idx]);
    }
    return "<no value>";
  }
  if (fn == "join") {
    Json list = arg(1);
    std::string sep = arg(2).is_string() ? arg(2).get<std::string>() : "";
    std::string out;
    if (list.is_array())
      for (size_t i = 0; i < list.size(); ++i) out += (i ? sep : "") + scalar_text(list[i]);
    return out;
  }
  fail(ErrorKind::invalid_input, "template: function \"{}\" not defined", fn);
}

}  // namespace

std::string align_columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t c = 0; c + 1 < row.size(); ++c) {  // the last cell of a row is not padded
      if (widths.size() <= c) widths.resize(c + 1, 0);
      widths[c] = std::max(widths[c], std::max(width(row[c]) + kPadding, kMinWidth));
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] - width(row[c]), ' ');
    }
    // tabwriter keeps trailing spaces only when a later cell follows.
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string render_template(std::string_view tmpl_in, const Json& object) {
  std::string tmpl = unescape(tmpl_in);
  std::string out;
  size_t pos = 0;
  while (pos < tmpl.size()) {
    size_t open = tmpl.find("{{", pos);
    if (open == std::string::npos) {
      out += tmpl.substr(pos);
      break;
    }
    out += tmpl.substr(pos, open - pos);
    size_t close = tmpl.find("}}", open + 2);
    if (close == std::string::npos) fail(ErrorKind::invalid_input, "template: unclosed action in \"{}\"", tmpl_in);
    std::string_view action(tmpl.data() + open + 2, close - open - 2);
    // {{- and -}} trim markers: accept and ignore the trimming.
    if (action.starts_with("- ")) action.remove_prefix(2);
    if (action.ends_with(" -")) action.remove_suffix(2);
    out += evaluate(object, action);
    pos = close + 2;
  }
  return out;
}

std::string header_for(std::string_view field, const Listing& listing) {
  if (auto it = listing.headers.find(std::string(field)); it != listing.headers.end()) return it->second;
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (i > 0 && std::isupper(static_cast<unsigned char>(c)) && std::islower(static_cast<unsigned char>(field[i - 1])))
      out += ' ';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string render_listing(const std::vector<Json>& rows, std::string_view format, const Listing& listing) {
  if (format == "json") {
    Json arr = Json::array();
    for (const auto& r : rows) arr.push_back(r);
    return arr.dump(4) + "\n";
  }
  std::string tmpl;
  bool table = false;
  if (format.empty() || format == "table") {
    table = true;
    for (size_t i = 0; i < listing.default_fields.size(); ++i)
      tmpl += (i ? "\t" : "") + fmt::format("{{{{.{}}}}}", listing.default_fields[i]);
  } else if (format.starts_with("table ") || format.starts_with("table\t")) {
    table = true;
    tmpl = std::string(format.substr(6));
  } else {
    tmpl = std::string(format);
  }
  std::vector<std::vector<std::string>> cells;
  if (table) {
    // The header row: each {{.Field}} replaced by its header, other text kept.
    std::string header;
    std::string t = unescape(tmpl);
    size_t pos = 0;
    while (pos < t.size()) {
      size_t open = t.find("{{", pos);
      if (open == std::string::npos) { header += t.substr(pos); break; }
      header += t.substr(pos, open - pos);
      size_t close = t.find("}}", open);
      if (close == std::string::npos) fail(ErrorKind::invalid_input, "template: unclosed action in \"{}\"", format);
      auto words = words_of(std::string_view(t).substr(open + 2, close - open - 2));
      std::string field;
      for (const auto& w : words)
        if (!w.empty() && w[0] == '.' && w.size() > 1) field = w.substr(1);
      header += field.empty() ? "" : header_for(field.substr(field.rfind('.') + 1), listing);
      pos = close + 2;
    }
    cells.push_back(util::split(header, '\t'));
  }
  for (const auto& r : rows) {
    std::string line = render_template(tmpl, r);
    for (const auto& l : util::split(line, '\n')) cells.push_back(util::split(l, '\t'));
    if (!line.empty() && line.back() == '\n') cells.pop_back();
  }
  return align_columns(cells);
}

}  // namespace kiln::cli
