// --change parsing and application. The instruction is the first word, ended by
// whitespace or '=' (podman accepts both "CMD /x" and "CMD=/x"); the rest is
// read with the Dockerfile's rules for that instruction.
#include "image/change.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "image/json_text.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::image {
namespace {

constexpr std::array<std::string_view, 10> kAllowed = {
    "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"};
constexpr std::array<std::string_view, 8> kDockerfileOnly = {
    "ADD", "ARG", "COPY", "FROM", "HEALTHCHECK", "MAINTAINER", "RUN", "SHELL"};

[[noreturn]] void bad(std::string_view line, std::string_view why) {
  fail(ErrorKind::invalid_input, "invalid change \"{}\": {}", line, why);
}

// A JSON array of strings, or nullopt when text is not one (then it is shell form).
std::optional<std::vector<std::string>> json_array(std::string_view text) {
  if (!text.starts_with('[')) return std::nullopt;
  OrderedJson json = OrderedJson::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : json) {
    if (!item.is_string()) return std::nullopt;
    out.push_back(item.get<std::string>());
  }
  return out;
}

// "KEY=value ..." pairs, or the legacy "KEY value with spaces" form.
std::vector<std::string> key_values(std::string_view line, std::string_view instruction, std::string_view rest) {
  std::vector<std::string> words = split_words(rest);
  std::vector<std::string> out;
  if (words.empty()) bad(line, fmt::format("{} requires at least one argument", instruction));
  if (words[0].find('=') == std::string::npos) {
    // Legacy form: the first word is the key, everything after it the value.
    auto space = rest.find_first_of(" \t");
    if (space == std::string_view::npos) bad(line, fmt::format("{} {} requires a value", instruction, words[0]));
    std::vector<std::string> value = split_words(util::trim(rest.substr(space)));
    std::string joined;
    for (const auto& v : value) joined += (joined.empty() ? "" : " ") + v;
    return {words[0], joined};
  }
  for (const auto& word : words) {
    auto eq = word.find('=');
    if (eq == std::string::npos)
      bad(line, fmt::format("{} expects KEY=value, got \"{}\"", instruction, word));
    if (eq == 0) bad(line, fmt::format("{} names can not be blank", instruction));
    out.push_back(word.substr(0, eq));
    out.push_back(word.substr(eq + 1));
  }
  return out;
}

bool parse_port(std::string_view text, unsigned& port) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && end == text.data() + text.size() && port <= 65535;
}

// "80", "80/udp", "8000-8001/tcp" -> "80/tcp", ...; ranges expand as Docker's EXPOSE does.
std::vector<std::string> expand_ports(std::string_view line, std::string_view spec) {
  std::string_view ports = spec, proto = "tcp";
  if (auto slash = spec.find('/'); slash != std::string_view::npos) {
    ports = spec.substr(0, slash);
    proto = spec.substr(slash + 1);
  }
  std::string protocol(proto);
  std::transform(protocol.begin(), protocol.end(), protocol.begin(), [](unsigned char c) { return std::tolower(c); });
  if (protocol != "tcp" && protocol != "udp" && protocol != "sctp")
    bad(line, fmt::format("invalid protocol \"{}\" in \"{}\"", proto, spec));
  unsigned first = 0, last = 0;
  if (auto dash = ports.find('-'); dash != std::string_view::npos) {
    if (!parse_port(ports.substr(0, dash), first) || !parse_port(ports.substr(dash + 1), last) || last < first)
      bad(line, fmt::format("invalid port range \"{}\"", spec));
  } else {
    if (!parse_port(ports, first)) bad(line, fmt::format("invalid port \"{}\"", spec));
    last = first;
  }
  std::vector<std::string> out;
  for (unsigned p = first; p <= last; ++p) out.push_back(fmt::format("{}/{}", p, protocol));
  return out;
}

// The first word of text, upper-cased (an ONBUILD trigger's instruction).
std::string first_word_upper(std::string_view text) {
  std::string word(text.substr(0, text.find_first_of(" \t")));
  std::transform(word.begin(), word.end(), word.begin(), [](unsigned char c) { return std::toupper(c); });
  return word;
}

std::string join_path(std::string_view base, std::string_view path) {
  if (path.starts_with('/')) return std::string(path);
  std::string out(base.empty() ? "/" : base);
  if (!out.ends_with('/')) out += '/';
  out += path;
  return out;
}

}  // namespace

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == '\'') {
      if (c == '\'') quote = 0;
      else word += c;
    } else if (c == '\\' && i + 1 < text.size() && (quote == 0 || text[i + 1] == '"' || text[i + 1] == '\\')) {
      word += text[++i];
      in_word = true;
    } else if (quote == '"') {
      if (c == '"') quote = 0;
      else word += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote) fail(ErrorKind::invalid_input, "unterminated {} quote in \"{}\"", quote == '"' ? "double" : "single", text);
  if (in_word) words.push_back(std::move(word));
  return words;
}

Change parse_change(std::string_view line) {
  std::string_view text = util::trim(line);
  auto end = text.find_first_of(" \t=");
  std::string instruction(text.substr(0, end));
  std::transform(instruction.begin(), instruction.end(), instruction.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  std::string_view rest = end == std::string_view::npos ? std::string_view{} : util::trim(text.substr(end + 1));
  if (instruction.empty()) bad(line, "empty instruction");
  if (std::find(kAllowed.begin(), kAllowed.end(), instruction) == kAllowed.end()) {
    if (std::find(kDockerfileOnly.begin(), kDockerfileOnly.end(), instruction) != kDockerfileOnly.end())
      bad(line, fmt::format("instruction \"{}\" is not allowed here (allowed: CMD, ENTRYPOINT, ENV, EXPOSE, "
                            "LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)", instruction));
    bad(line, fmt::format("unknown instruction \"{}\"", instruction));
  }

  Change change{instruction, {}, false, std::string(line)};
  // CMD and ENTRYPOINT may be empty in JSON form ("CMD []" clears); all else needs an argument.
  if (rest.empty()) bad(line, fmt::format("{} requires an argument", instruction));
  if (instruction == "CMD" || instruction == "ENTRYPOINT" || instruction == "VOLUME") {
    if (auto array = json_array(rest)) {
      change.args = std::move(*array);
      change.json_form = true;
    } else if (instruction == "VOLUME") {
      change.args = split_words(rest);
    } else {
      change.args = {std::string(rest)};
    }
  } else if (instruction == "ENV" || instruction == "LABEL") {
    change.args = key_values(line, instruction, rest);
  } else if (instruction == "EXPOSE") {
    for (const auto& word : split_words(rest))
      for (auto& port : expand_ports(line, word)) change.args.push_back(std::move(port));
  } else if (instruction == "ONBUILD") {
    auto trigger = first_word_upper(rest);
    if (trigger == "ONBUILD") bad(line, "chaining ONBUILD via \"ONBUILD ONBUILD\" is not allowed");
    if (trigger == "FROM" || trigger == "MAINTAINER")
      bad(line, fmt::format("{} is not allowed as an ONBUILD trigger", trigger));
    change.args = {std::string(rest)};
  } else if (instruction == "STOPSIGNAL" || instruction == "USER") {
    auto words = split_words(rest);
    if (words.size() != 1) bad(line, fmt::format("{} requires exactly one argument", instruction));
    change.args = std::move(words);
  } else {  // WORKDIR: the rest of the line, spaces included
    change.args = {std::string(rest)};
  }
  return change;
}

void apply_change(RunConfig& config, const Change& change) {
  const std::string& what = change.instruction;
  if (what == "CMD" || what == "ENTRYPOINT") {
    std::vector<std::string> argv;
    if (change.json_form) {
      argv = change.args;
    } else {
      argv = config.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : config.shell;
      argv.push_back(change.args.at(0));
    }
    if (what == "CMD") {
      config.cmd = std::move(argv);
    } else {
      // podman keeps the CMD here (a Dockerfile would reset an inherited one).
      config.entrypoint = std::move(argv);
    }
  } else if (what == "ENV") {
    for (std::size_t i = 0; i + 1 < change.args.size(); i += 2) config.set_env(change.args[i], change.args[i + 1]);
  } else if (what == "LABEL") {
    for (std::size_t i = 0; i + 1 < change.args.size(); i += 2) config.labels[change.args[i]] = change.args[i + 1];
  } else if (what == "EXPOSE") {
    config.exposed_ports.insert(change.args.begin(), change.args.end());
  } else if (what == "VOLUME") {
    config.volumes.insert(change.args.begin(), change.args.end());
  } else if (what == "WORKDIR") {
    config.working_dir = join_path(config.working_dir, change.args.at(0));
  } else if (what == "USER") {
    config.user = change.args.at(0);
  } else if (what == "STOPSIGNAL") {
    config.stop_signal = change.args.at(0);
  } else if (what == "ONBUILD") {
    config.on_build.push_back(change.args.at(0));
  } else {
    fail(ErrorKind::invalid_input, "invalid change \"{}\": unknown instruction \"{}\"", change.text, what);
  }
}

void apply_changes(RunConfig& config, const std::vector<std::string>& lines) {
  for (const auto& line : lines) apply_change(config, parse_change(line));
}

}  // namespace kiln::image
