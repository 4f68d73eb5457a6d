// The command table: each command declares its name, aliases, arguments and one
// option table. That table feeds the parser (cxxopts), --help, the man page's
// OPTIONS section and the shell completions, so a flag exists in all four or none.
//
// A command lives in src/cli/<group>.cpp and registers itself:
//   const Registration kImages{{"image ls", "images", "image list"}, [] { return Command{...}; }};
// The names there (the command's name, then its aliases) find it without building
// every table; a unit test holds them equal to the table's own.
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::cli {

/// What a shell should offer for an option's argument or a positional argument.
enum class Complete { none, file, dir, image, container, choice, command };

struct Option {
  std::string long_name;          // "all" for --all
  char short_name = 0;            // 'a' for -a, 0 for none
  std::string arg;                // metavar ("NAME"); empty for a boolean flag
  std::string help;               // one sentence, no trailing period
  Complete complete = Complete::none;
  std::vector<std::string> choices;  // with Complete::choice
  bool repeatable = false;        // may be given more than once; all values kept
  std::string default_value;      // shown in --help as (default "x")
};

/// Options every command accepts (before or after the command name).
struct GlobalOptions {
  std::optional<std::string> root;            // --root
  std::optional<std::string> runroot;         // --runroot
  std::optional<std::string> storage_driver;  // --storage-driver
  std::optional<std::string> log_level;       // --log-level
};

/// The parsed command line handed to a command's run function.
class Args {
public:
  /// True when a boolean flag is set (also --flag=true), false for --flag=false or absent.
  bool flag(std::string_view name) const;
  /// True when the option appeared on the command line at all.
  bool given(std::string_view name) const;
  /// The last value of an option with an argument.
  std::optional<std::string> get(std::string_view name) const;
  std::string get_or(std::string_view name, std::string_view fallback) const;
  /// Every value of a repeatable option, in order.
  std::vector<std::string> all(std::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  const GlobalOptions& global() const { return global_; }
  /// The command as typed in messages: "images".
  const std::string& command_name() const { return command_name_; }

  // Filled by the dispatcher.
  struct Value {
    std::string name;
    std::string value;
  };
  std::vector<Value> values_;
  std::vector<std::string> positional_;
  GlobalOptions global_;
  std::string command_name_;
};

struct Command {
  std::string name;                    // "image ls"; words separated by one space
  std::vector<std::string> aliases;    // {"images", "image list"}
  std::string usage_args;              // "[OPTIONS] IMAGE [IMAGE...]" without the command name
  std::string summary;                 // one line for `kiln help`
  std::string description;             // a paragraph for --help and the man page, optional
  std::vector<Option> options;
  int min_args = 0;
  int max_args = -1;                   // -1: any number
  Complete arg_complete = Complete::none;
  /// run/exec/unshare: everything from the first positional argument on belongs to it,
  /// flags included (`kiln run img sh -c x`).
  bool stop_at_first_arg = false;
  /// Whether the command runs inside kiln's user namespace (anything that writes layer
  /// contents or mounts). Pure metadata readers do not, which keeps them fast.
  bool needs_userns = true;
  bool hidden = false;                 // internal commands (monitor processes)
  std::function<int(const Args&)> run;
};

/// Registers a command from a static initialiser.
struct Registration {
  Registration(std::initializer_list<std::string_view> names, Command (*make)());
};

/// The names each command was registered under, in registration order (for the test
/// that holds them equal to each table's name and aliases).
std::vector<std::vector<std::string>> registered_names();

/// All registered commands, sorted by name.
const std::vector<Command>& commands();
/// Finds a command by name or alias; nullptr when unknown.
const Command* find_command(std::string_view name);
/// The global options' table.
const std::vector<Option>& global_options();

/// Renders `kiln CMD --help` (also used for the man page synopsis).
std::string render_help(const Command& cmd);
/// Renders `kiln help` / `kiln --help`.
std::string render_overview();
/// Renders the OPTIONS section of a man page in roff.
std::string render_man_page(const Command& cmd, std::string_view prose);
/// Completion script for "bash", "zsh" or "fish"; throws for another shell.
std::string render_completion(std::string_view shell);

/// Runs kiln with the given argv; returns the process exit code.
int main(int argc, char** argv);

}  // namespace kiln::cli
