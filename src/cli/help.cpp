// Renders the option tables: --help text (under 80 columns), the overview of all
// commands, man page OPTIONS in roff, and bash/zsh/fish completion scripts.
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "util/error.hpp"

namespace kiln::cli {
namespace {

constexpr size_t kWidth = 79;

std::string flag_column(const Option& opt) {
  std::string s = opt.short_name ? fmt::format("-{}, ", opt.short_name) : "    ";
  s += "--" + opt.long_name;
  if (!opt.arg.empty()) s += " " + opt.arg;
  return s;
}

// Word-wraps text into lines of at most width - indent columns, each prefixed by indent spaces
// (the first line's prefix is supplied by the caller).
std::string wrap(std::string_view text, size_t first_col, size_t indent) {
  std::string out;
  size_t col = first_col;
  size_t pos = 0;
  bool first_word = true;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(pos, end - pos);
    pos = end + 1;
    if (word.empty()) continue;
    if (!first_word && col + 1 + word.size() > kWidth) {
      out += "\n" + std::string(indent, ' ');
      col = indent;
    } else if (!first_word) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    first_word = false;
  }
  return out;
}

std::string option_help(const Option& opt) {
  std::string h = opt.help;
  if (!opt.choices.empty() && opt.complete == Complete::choice)
    h += fmt::format(" ({})", fmt::join(opt.choices, "|"));
  if (!opt.default_value.empty()) h += fmt::format(" (default \"{}\")", opt.default_value);
  return h;
}

void render_options(std::string& out, const std::vector<Option>& options) {
  size_t col = 0;
  for (const auto& opt : options) col = std::max(col, flag_column(opt).size());
  col = std::min<size_t>(col + 4, 34);
  for (const auto& opt : options) {
    std::string left = "  " + flag_column(opt);
    if (left.size() + 2 > col) {
      out += left + "\n" + std::string(col, ' ');
    } else {
      out += left + std::string(col - left.size(), ' ');
    }
    out += wrap(option_help(opt), col, col) + "\n";
  }
}

}  // namespace

std::string render_help(const Command& cmd) {
  std::string out = fmt::format("Usage: kiln {}{}{}\n\n", cmd.name, cmd.usage_args.empty() ? "" : " ",
                                cmd.usage_args);
  out += wrap(cmd.summary, 0, 0) + "\n";
  if (!cmd.description.empty()) out += "\n" + wrap(cmd.description, 0, 0) + "\n";
  if (!cmd.aliases.empty()) {
    std::vector<std::string> names = {cmd.name};
    names.insert(names.end(), cmd.aliases.begin(), cmd.aliases.end());
    out += "\nAliases: " + wrap(fmt::format("{}", fmt::join(names, ", ")), 9, 9) + "\n";
  }
  if (!cmd.options.empty()) {
    out += "\nOptions:\n";
    render_options(out, cmd.options);
  }
  out += "\nGlobal options:\n";
  render_options(out, global_options());
  return out;
}

std::string render_overview() {
  std::string out =
      "Usage: kiln [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARG...]\n\n"
      "Build, run, push and pull container images without a daemon and without root.\n\n"
      "Commands:\n";
  size_t col = 0;
  for (const auto& cmd : commands())
    if (!cmd.hidden) col = std::max(col, cmd.name.size());
  col += 4;
  for (const auto& cmd : commands()) {
    if (cmd.hidden) continue;
    std::string left = "  " + cmd.name;
    out += left + std::string(col + 2 - left.size(), ' ') + wrap(cmd.summary, col + 2, col + 2) + "\n";
  }
  out += "\nGlobal options:\n";
  std::vector<Option> top = global_options();
  top.push_back({.long_name = "version", .short_name = 'v', .help = "Print kiln's version"});
  render_options(out, top);
  out += "\nRun 'kiln COMMAND --help' for more about a command.\n";
  return out;
}

namespace {

std::string roff_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

void man_options(std::string& out, const std::vector<Option>& options) {
  for (const auto& opt : options) {
    out += ".TP\n";
    std::string head = opt.short_name ? fmt::format("\\fB\\-{}\\fR, ", opt.short_name) : "";
    head += fmt::format("\\fB\\-\\-{}\\fR", roff_escape(opt.long_name));
    if (!opt.arg.empty()) head += fmt::format(" \\fI{}\\fR", roff_escape(opt.arg));
    out += head + "\n" + roff_escape(option_help(opt)) + "\n";
  }
}

}  // namespace

std::string render_man_page(const Command& cmd, std::string_view prose) {
  std::string page_name = "kiln-" + cmd.name;
  std::replace(page_name.begin(), page_name.end(), ' ', '-');
  std::string upper = page_name;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  std::string out = fmt::format(".TH {} 1 \"\" \"kiln {}\" \"kiln manual\"\n", roff_escape(upper), KILN_VERSION);
  out += fmt::format(".SH NAME\n{} \\- {}\n", roff_escape(page_name), roff_escape(cmd.summary));
  out += fmt::format(".SH SYNOPSIS\n\\fBkiln {}\\fR {}\n", roff_escape(cmd.name), roff_escape(cmd.usage_args));
  out += ".SH DESCRIPTION\n";
  if (!cmd.description.empty()) out += roff_escape(cmd.description) + "\n";
  // The prose is markdown-ish: paragraphs separated by blank lines, "## X" for sections.
  std::string para;
  auto flush = [&] {
    if (!para.empty()) out += ".PP\n" + roff_escape(para) + "\n";
    para.clear();
  };
  size_t pos = 0;
  while (pos <= prose.size()) {
    size_t end = prose.find('\n', pos);
    if (end == std::string_view::npos) end = prose.size();
    std::string_view line = prose.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with("# ")) continue;  // the title; the .TH line says it
    if (line.starts_with("## ")) {
      flush();
      std::string title(line.substr(3));
      std::transform(title.begin(), title.end(), title.begin(), [](unsigned char c) { return std::toupper(c); });
      out += ".SH " + roff_escape(title) + "\n";
    } else if (line.empty()) {
      flush();
    } else if (line.starts_with("    ")) {
      flush();
      out += ".nf\n" + roff_escape(line.substr(4)) + "\n.fi\n";
    } else {
      para += (para.empty() ? "" : " ") + std::string(line);
    }
    if (end == prose.size()) break;
  }
  flush();
  if (!cmd.aliases.empty()) out += fmt::format(".SH ALIASES\n{}\n", roff_escape(fmt::format("{}", fmt::join(cmd.aliases, ", "))));
  if (!cmd.options.empty()) {
    out += ".SH OPTIONS\n";
    man_options(out, cmd.options);
  }
  out += ".SH GLOBAL OPTIONS\n";
  man_options(out, global_options());
  out += ".SH SEE ALSO\n\\fBkiln\\fR(1)\n";
  return out;
}

namespace {

// The words a shell should offer for an option argument or positional of a given kind.
std::string bash_action(Complete kind, const std::vector<std::string>& choices) {
  switch (kind) {
    case Complete::file: return "_filedir";
    case Complete::dir: return "_filedir -d";
    case Complete::image: return "__kiln_words \"$(kiln images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null)\"";
    case Complete::container: return "__kiln_words \"$(kiln ps -a --format '{{.Names}}' 2>/dev/null)\"";
    case Complete::choice: return fmt::format("__kiln_words \"{}\"", fmt::join(choices, " "));
    case Complete::command: return "__kiln_words \"$(compgen -c)\"";
    case Complete::none: return ":";
  }
  return ":";
}

std::string function_name(const std::string& cmd) {
  std::string f = "_kiln_" + cmd;
  std::replace(f.begin(), f.end(), ' ', '_');
  std::replace(f.begin(), f.end(), '-', '_');
  return f;
}

std::string bash_completion() {
  std::string out =
      "# bash completion for kiln; generated from kiln's option tables.\n"
      "__kiln_words() { COMPREPLY=($(compgen -W \"$1\" -- \"$cur\")); }\n\n";
  std::set<std::string> first_words;
  for (const auto& cmd : commands()) {
    if (cmd.hidden) continue;
    std::vector<std::string> names = {cmd.name};
    names.insert(names.end(), cmd.aliases.begin(), cmd.aliases.end());
    for (const auto& n : names) first_words.insert(n.substr(0, n.find(' ')));
    std::vector<Option> opts = cmd.options;
    opts.insert(opts.end(), global_options().begin(), global_options().end());
    out += function_name(cmd.name) + "() {\n  case \"$prev\" in\n";
    for (const auto& o : opts) {
      if (o.arg.empty()) continue;
      std::string pat = "--" + o.long_name;
      if (o.short_name) pat += fmt::format("|-{}", o.short_name);
      out += fmt::format("    {}) {}; return ;;\n", pat, bash_action(o.complete, o.choices));
    }
    out += "  esac\n  if [[ $cur == -* ]]; then\n    __kiln_words \"";
    std::vector<std::string> flags = {"--help"};
    for (const auto& o : opts) {
      flags.push_back("--" + o.long_name);
      if (o.short_name) flags.push_back(fmt::format("-{}", o.short_name));
    }
    out += fmt::format("{}\"\n  else\n    {}\n  fi\n}}\n\n", fmt::join(flags, " "),
                       bash_action(cmd.arg_complete, {}));
  }
  out +=
      "_kiln() {\n"
      "  local cur prev words cword\n"
      "  _init_completion || return\n"
      "  local i cmd=\"\" sub=\"\"\n"
      "  for ((i = 1; i < cword; i++)); do\n"
      "    [[ ${words[i]} == -* ]] && continue\n"
      "    if [[ -z $cmd ]]; then cmd=${words[i]}; else sub=${words[i]}; break; fi\n"
      "  done\n"
      "  case \"$cmd $sub\" in\n";
  for (const auto& cmd : commands()) {
    if (cmd.hidden) continue;
    std::vector<std::string> names = {cmd.name};
    names.insert(names.end(), cmd.aliases.begin(), cmd.aliases.end());
    for (const auto& n : names)
      if (n.find(' ') != std::string::npos) out += fmt::format("    \"{}\") {}; return ;;\n", n, function_name(cmd.name));
  }
  out += "  esac\n  case \"$cmd\" in\n";
  for (const auto& cmd : commands()) {
    if (cmd.hidden) continue;
    std::vector<std::string> names = {cmd.name};
    names.insert(names.end(), cmd.aliases.begin(), cmd.aliases.end());
    for (const auto& n : names)
      if (n.find(' ') == std::string::npos) out += fmt::format("    {}) {}; return ;;\n", n, function_name(cmd.name));
  }
  // A group word ("image") completes its subcommands.
  std::map<std::string, std::set<std::string>> groups;
  for (const auto& cmd : commands()) {
    if (cmd.hidden) continue;
    std::vector<std::string> names = {cmd.name};
    names.insert(names.end(), cmd.aliases.begin(), cmd.aliases.end());
    for (const auto& n : names)
      if (auto sp = n.find(' '); sp != std::string::npos) groups[n.substr(0, sp)].insert(n.substr(sp + 1));
  }
  for (const auto& [g, subs] : groups)
    out += fmt::format("    {}) __kiln_words \"{}\"; return ;;\n", g, fmt::join(subs, " "));
  out += fmt::format("  esac\n  __kiln_words \"{} help --help --version --root --runroot --storage-driver --log-level\"\n}}\n",
                     fmt::join(first_words, " "));
  out += "complete -F _kiln kiln\n";
  return out;
}

std::string zsh_completion() {
  // zsh runs the bash function through bashcompinit: one generator, one behaviour.
  return "#compdef kiln\n# zsh completion for kiln; generated from kiln's option tables.\n"
         "autoload -U +X bashcompinit && bashcompinit\n"
         "autoload -U +X compinit && compinit\n" +
         bash_completion();
}

std::string fish_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string fish_completion() {
  std::string out = "# fish completion for kiln; generated from kiln's option tables.\n"
                    "complete -c kiln -f\n";
  std::set<std::string> seen_first;
  for (const auto& cmd : commands()) {
    if (cmd.hidden) continue;
    std::vector<std::string> names = {cmd.name};
    names.insert(names.end(), cmd.aliases.begin(), cmd.aliases.end());
    for (const auto& n : names) {
      auto words = n.find(' ') == std::string::npos ? std::vector<std::string>{n}
                                                     : std::vector<std::string>{n.substr(0, n.find(' ')), n.substr(n.find(' ') + 1)};
      if (words.size() == 1) {
        if (seen_first.insert(words[0]).second)
          out += fmt::format("complete -c kiln -n __fish_use_subcommand -a '{}' -d '{}'\n", words[0], fish_escape(cmd.summary));
      } else {
        if (seen_first.insert(words[0]).second)
          out += fmt::format("complete -c kiln -n __fish_use_subcommand -a '{}'\n", words[0]);
        out += fmt::format("complete -c kiln -n '__fish_seen_subcommand_from {}' -a '{}' -d '{}'\n", words[0],
                           words[1], fish_escape(cmd.summary));
      }
      std::string cond = fmt::format("__fish_seen_subcommand_from {}", words.back());
      for (const auto& o : cmd.options) {
        out += fmt::format("complete -c kiln -n '{}' -l '{}'", cond, o.long_name);
        if (o.short_name) out += fmt::format(" -s '{}'", o.short_name);
        if (!o.arg.empty()) out += " -r";
        if (o.complete == Complete::file || o.complete == Complete::dir) out += " -F";
        if (o.complete == Complete::choice) out += fmt::format(" -a '{}'", fmt::join(o.choices, " "));
        out += fmt::format(" -d '{}'\n", fish_escape(o.help));
      }
    }
  }
  for (const auto& o : global_options())
    out += fmt::format("complete -c kiln -l '{}' -r -d '{}'\n", o.long_name, fish_escape(o.help));
  return out;
}

}  // namespace

std::string render_completion(std::string_view shell) {
  if (shell == "bash") return bash_completion();
  if (shell == "zsh") return zsh_completion();
  if (shell == "fish") return fish_completion();
  fail(ErrorKind::invalid_input, "unknown shell \"{}\" (want bash, zsh or fish)", shell);
}

}  // namespace kiln::cli
