// kiln's command line: global options, the command word(s), the command's own
// options (checked against its table first, for one-line errors, then parsed by
// cxxopts), --help, the user namespace, and the exit code for each failure.
#include <unistd.h>

#include <cstring>
#include <iostream>

// Vector options must not split at commas: `-e A=1,2` is one value.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>

#include "cli/command.hpp"
#include "cli/context.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace kiln::cli {
namespace {

constexpr int kExitKilnFailed = 125;

// A usage problem: printed as one line with a hint, exit 125.
class UsageError : public Error {
public:
  UsageError(std::string message, std::string hint_command)
      : Error(std::move(message), ErrorKind::invalid_input), hint(std::move(hint_command)) {}
  std::string hint;
};

const Option* find_option(const std::vector<const std::vector<Option>*>& tables, std::string_view long_name,
                          char short_name) {
  for (const auto* table : tables)
    for (const auto& opt : *table)
      if ((!long_name.empty() && opt.long_name == long_name) || (short_name && opt.short_name == short_name))
        return &opt;
  return nullptr;
}

// Walks args[begin..) against the option tables: validates names and arguments and
// returns the index of the first positional argument when stop_at_positional, else
// args.size(). Throws UsageError naming the bad flag.
size_t scan_options(const std::vector<std::string>& args, size_t begin,
                    const std::vector<const std::vector<Option>*>& tables, bool stop_at_positional,
                    const std::string& hint) {
  for (size_t i = begin; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") return stop_at_positional ? i : args.size();
    if (a.size() > 2 && a.starts_with("--")) {
      std::string name = a.substr(2);
      bool has_inline = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        name = name.substr(0, eq);
        has_inline = true;
      }
      if (name == "help") continue;
      const Option* opt = find_option(tables, name, 0);
      if (!opt) throw UsageError(fmt::format("unknown flag: --{}", name), hint);
      if (!opt->arg.empty() && !has_inline) {
        if (i + 1 >= args.size()) throw UsageError(fmt::format("flag needs an argument: --{}", name), hint);
        ++i;
      }
    } else if (a.size() > 1 && a[0] == '-') {
      for (size_t j = 1; j < a.size(); ++j) {
        if (a[j] == 'h' && !find_option(tables, "", 'h')) continue;  // -h means --help
        const Option* opt = find_option(tables, "", a[j]);
        if (!opt) throw UsageError(fmt::format("unknown shorthand flag: '{}' in {}", a[j], a), hint);
        if (!opt->arg.empty()) {
          if (j + 1 == a.size()) {
            if (i + 1 >= args.size())
              throw UsageError(fmt::format("flag needs an argument: '{}' in {}", a[j], a), hint);
            ++i;
          }
          break;  // the rest of this word is the value
        }
      }
    } else if (stop_at_positional) {
      return i;
    }
  }
  return args.size();
}

void add_to_cxxopts(cxxopts::Options& parser, const std::vector<Option>& table) {
  auto adder = parser.add_options();
  for (const auto& opt : table) {
    std::string spec = opt.short_name ? fmt::format("{},{}", opt.short_name, opt.long_name) : opt.long_name;
    if (opt.arg.empty())
      adder(spec, opt.help, cxxopts::value<bool>()->implicit_value("true"));
    else
      adder(spec, opt.help, cxxopts::value<std::vector<std::string>>());
  }
}

bool wants_help(const std::vector<std::string>& args, size_t begin, size_t end,
                const std::vector<const std::vector<Option>*>& tables) {
  for (size_t i = begin; i < end; ++i) {
    if (args[i] == "--") return false;
    if (args[i] == "--help") return true;
    if (args[i] == "-h" && !find_option(tables, "", 'h')) return true;
  }
  return false;
}

Args parse_command(const Command& cmd, const std::vector<std::string>& args, size_t begin,
                   GlobalOptions global, const std::string& typed_name) {
  const std::string hint = fmt::format("see 'kiln {} --help'", typed_name);
  std::vector<const std::vector<Option>*> tables = {&cmd.options, &global_options()};
  size_t split = scan_options(args, begin, tables, cmd.stop_at_first_arg, hint);

  // cxxopts gets the options part; positional words after `split` pass through untouched.
  std::vector<std::string> head(args.begin() + static_cast<long>(begin), args.begin() + static_cast<long>(split));
  std::vector<std::string> tail(args.begin() + static_cast<long>(split), args.end());
  if (!tail.empty() && tail.front() == "--" && cmd.stop_at_first_arg) tail.erase(tail.begin());

  cxxopts::Options parser("kiln " + typed_name);
  add_to_cxxopts(parser, cmd.options);
  add_to_cxxopts(parser, global_options());
  parser.add_options()("kiln-positional", "", cxxopts::value<std::vector<std::string>>());
  parser.parse_positional({"kiln-positional"});

  std::vector<char*> argv;
  std::string program = "kiln";
  argv.push_back(program.data());
  for (auto& h : head) argv.push_back(h.data());

  Args out;
  out.command_name_ = typed_name;
  try {
    auto result = parser.parse(static_cast<int>(argv.size()), argv.data());
    for (const auto& kv : result.arguments()) {
      if (kv.key() == "kiln-positional") continue;
      out.values_.push_back({kv.key(), kv.value()});
    }
    if (result.count("kiln-positional")) out.positional_ = result["kiln-positional"].as<std::vector<std::string>>();
  } catch (const cxxopts::exceptions::exception& e) {
    throw UsageError(e.what(), hint);
  }
  out.positional_.insert(out.positional_.end(), tail.begin(), tail.end());

  // Global options given after the command override those before it.
  if (auto v = out.get("root")) global.root = v;
  if (auto v = out.get("runroot")) global.runroot = v;
  if (auto v = out.get("storage-driver")) global.storage_driver = v;
  if (auto v = out.get("log-level")) global.log_level = v;
  out.global_ = global;

  int n = static_cast<int>(out.positional_.size());
  if (n < cmd.min_args || (cmd.max_args >= 0 && n > cmd.max_args)) {
    std::string want = cmd.max_args < 0          ? fmt::format("at least {}", cmd.min_args)
                       : cmd.min_args == cmd.max_args ? fmt::format("exactly {}", cmd.min_args)
                                                      : fmt::format("{} to {}", cmd.min_args, cmd.max_args);
    throw UsageError(fmt::format("\"kiln {}\" accepts {} argument{}, got {}", typed_name, want,
                                 (cmd.max_args == 1 || (cmd.max_args < 0 && cmd.min_args == 1)) ? "" : "s", n),
                     hint);
  }
  return out;
}

// Finds the command named by the longest run of words (up to three) at args[begin..].
const Command* match_command(const std::vector<std::string>& args, size_t begin, size_t& words,
                             std::string& typed) {
  for (size_t n = std::min<size_t>(3, args.size() - begin); n >= 1; --n) {
    std::string name;
    for (size_t i = 0; i < n; ++i) name += (i ? " " : "") + args[begin + i];
    if (const Command* cmd = find_command(name)) {
      words = n;
      typed = name;
      return cmd;
    }
  }
  return nullptr;
}

bool is_group(std::string_view word) {
  for (const auto& cmd : commands())
    if (cmd.name.starts_with(std::string(word) + " ")) return true;
  return false;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::vector<const std::vector<Option>*> globals = {&global_options()};

  static const std::vector<Option> top_only = {
      {.long_name = "version", .short_name = 'v', .help = "Print kiln's version"},
  };
  std::vector<const std::vector<Option>*> top_tables = {&global_options(), &top_only};
  size_t first = scan_options(args, 0, top_tables, true, "see 'kiln --help'");

  // Global options before the command.
  GlobalOptions global;
  for (size_t i = 0; i < first; ++i) {
    const std::string& a = args[i];
    if (a == "--version" || a == "-v") {
      std::cout << "kiln version " << KILN_VERSION << "\n";
      return 0;
    }
    if (a == "--help" || a == "-h") {
      std::cout << render_overview();
      return 0;
    }
    auto take = [&](const char* name) -> std::optional<std::string> {
      std::string flag = std::string("--") + name;
      if (a == flag) return args[++i];
      if (a.starts_with(flag + "=")) return a.substr(flag.size() + 1);
      return std::nullopt;
    };
    if (auto v = take("root")) global.root = v;
    else if (auto v2 = take("runroot")) global.runroot = v2;
    else if (auto v3 = take("storage-driver")) global.storage_driver = v3;
    else if (auto v4 = take("log-level")) global.log_level = v4;
  }
  if (global.log_level) util::set_log_level(util::parse_log_level(*global.log_level));

  if (first >= args.size()) {
    std::cerr << render_overview();
    throw UsageError("missing command", "see 'kiln --help'");
  }
  if (args[first] == "help") {
    if (first + 1 < args.size()) {
      size_t words = 0;
      std::string typed;
      if (const Command* cmd = match_command(args, first + 1, words, typed)) {
        std::cout << render_help(*cmd);
        return 0;
      }
      throw UsageError(fmt::format("unknown command \"{}\"", args[first + 1]), "see 'kiln help'");
    }
    std::cout << render_overview();
    return 0;
  }

  size_t words = 0;
  std::string typed;
  const Command* cmd = match_command(args, first, words, typed);
  if (!cmd) {
    if (is_group(args[first])) {
      std::string sub = first + 1 < args.size() ? args[first + 1] : "";
      if (sub.empty() || sub == "--help" || sub == "-h") {
        std::cout << render_overview();
        if (sub.empty()) throw UsageError(fmt::format("\"{}\" needs a subcommand", args[first]), "see 'kiln --help'");
        return 0;
      }
      throw UsageError(fmt::format("unknown command \"{} {}\"", args[first], sub), "see 'kiln --help'");
    }
    throw UsageError(fmt::format("unknown command \"{}\"", args[first]), "see 'kiln --help'");
  }

  size_t begin = first + words;
  std::vector<const std::vector<Option>*> tables = {&cmd->options, &global_options()};
  size_t help_end = cmd->stop_at_first_arg
                        ? scan_options(args, begin, tables, true, fmt::format("see 'kiln {} --help'", typed))
                        : args.size();
  if (wants_help(args, begin, help_end, tables)) {
    std::cout << render_help(*cmd);
    return 0;
  }
  Args parsed = parse_command(*cmd, args, begin, global, typed);
  if (parsed.global().log_level) util::set_log_level(util::parse_log_level(*parsed.global().log_level));

  Context ctx = Context::resolve(parsed.global());
  if (cmd->needs_userns) enter_namespace(ctx);
  return cmd->run(parsed);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "kiln: " << e.what() << " (" << e.hint << ")\n";
    return kExitKilnFailed;
  } catch (const std::exception& e) {
    std::cerr << "kiln: " << util::describe(e) << "\n";
    switch (util::kind_of(e)) {
      case ErrorKind::not_executable: return 126;
      case ErrorKind::command_not_found: return 127;
      case ErrorKind::generic:
      case ErrorKind::not_found:
      case ErrorKind::invalid_input:
      case ErrorKind::conflict:
      case ErrorKind::unauthorized:
      case ErrorKind::corrupt: return kExitKilnFailed;
    }
    return kExitKilnFailed;
  }
}

}  // namespace kiln::cli
