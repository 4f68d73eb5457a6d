// ARG scoping with Docker's rules. ARGs before the first FROM are global:
// usable in FROM lines, and inside a stage only after `ARG NAME` re-declares
// them. Stage ARGs take --build-arg overrides, then their default (expanded
// with what is in scope), then the global value. ENV wins over ARG of the
// same name when expanding. Predefined platform args (TARGETOS...) behave like
// globals; proxy args (HTTP_PROXY...) reach RUN without a declaration and are
// kept out of history. The builder drives one StageScope per stage.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dockerfile/ast.hpp"
#include "dockerfile/shell_lexer.hpp"

namespace kiln::dockerfile {

/// os/arch[/variant], as "linux/arm64/v8".
struct Platform {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;
  /// "linux/amd64" or "linux/arm/v7".
  std::string str() const;
  /// Parses "os/arch[/variant]" (a lone arch gets os linux); throws kiln::Error on "".
  static Platform parse(std::string_view text);
};

/// --build-arg values as given (NAME -> value).
using BuildArgs = std::map<std::string, std::string>;

/// TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT.
Env platform_args(const Platform& target, const Platform& build);
/// Whether name is a proxy arg (HTTP_PROXY, https_proxy, NO_PROXY, ALL_PROXY, FTP_PROXY ...):
/// passed to RUN without an ARG and left out of history and the cache key.
bool is_proxy_arg(std::string_view name);
/// Whether name is predefined: a proxy arg or one of platform_args().
bool is_predefined_arg(std::string_view name);

/// The global scope: predefined platform args plus the ARGs before the first FROM.
class GlobalArgs {
public:
  GlobalArgs() = default;
  /// Evaluates the leading ARG instructions of dockerfile (stopping at the first FROM)
  /// with overrides from build_args. Throws kiln::Error located at a bad ARG.
  GlobalArgs(const Dockerfile& dockerfile, const BuildArgs& build_args, Env predefined);

  /// Everything FROM lines may use: predefined args and global ARGs that have a value.
  const Env& values() const { return values_; }
  /// Whether name was declared by a global ARG (or is predefined).
  bool declared(std::string_view name) const;
  /// Names of global ARG declarations.
  const std::set<std::string>& names() const { return names_; }

private:
  Env values_;
  std::set<std::string> names_;
};

/// ARG and ENV state of one stage while its instructions are dispatched in order.
class StageScope {
public:
  StageScope(const GlobalArgs& globals, const BuildArgs& build_args, char escape = '\\');

  /// The base image's config Env (before any ENV of this stage).
  void set_image_env(const Env& env);
  /// Applies an ARG instruction: each name gets its --build-arg, else its default
  /// (expanded), else the global value; without any, it is declared but unset.
  void declare(const Instruction& arg, std::string_view file = {});
  /// Applies an ENV instruction (names and values expanded); returns the pairs set.
  std::vector<std::pair<std::string, std::string>> apply_env(const Instruction& env,
                                                             std::string_view file = {});

  /// Lookup for expanding instructions: ENV (image and stage) first, then declared ARGs.
  EnvLookup lookup() const;
  /// The environment and its expansion of one instruction (ADD COPY EXPOSE ...);
  /// records the build args it used.
  Instruction expand(const Instruction& instruction, std::string_view file = {});
  /// The image's config Env after this stage's ENVs.
  const Env& env() const { return env_; }
  /// Declared ARGs that have a value, in declaration order: RUN sees them as environment
  /// variables (unless ENV sets the same name); they are part of the cache key and of
  /// the history line ("|2 A=1 B=2 /bin/sh -c ...").
  std::vector<std::pair<std::string, std::string>> args_in_effect() const;
  /// The environment of a RUN: image env + ENV, declared ARGs not shadowed by ENV, and
  /// proxy build args (even undeclared).
  Env run_env() const;
  /// Names declared by ARG in this stage so far.
  const std::set<std::string>& declared() const { return declared_names_; }
  /// --build-arg names consumed so far (declared by an ARG of this stage).
  const std::set<std::string>& consumed() const { return consumed_; }

private:
  const GlobalArgs& globals_;
  const BuildArgs& build_args_;
  ShellLexer lexer_;
  Env env_;
  Env args_;                             // declared ARGs with values
  std::set<std::string> declared_names_;
  std::set<std::string> consumed_;
};

/// --build-arg names not consumed by any ARG (global or in consumed_by) and not
/// predefined: Docker's "[Warning] One or more build-args [...] were not consumed".
std::vector<std::string> unused_build_args(const BuildArgs& build_args,
                                           const std::set<std::string>& consumed);

}  // namespace kiln::dockerfile
