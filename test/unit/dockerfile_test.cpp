// dockerfile: parser, directives, heredocs, errors, expansion, instruction views,
// ARG scoping, stages and .dockerignore. BuildKit's own corpus is in conformance_test.
#include <doctest/doctest.h>

#include "dockerfile/args.hpp"
#include "dockerfile/dockerignore.hpp"
#include "dockerfile/instructions.hpp"
#include "dockerfile/parser.hpp"
#include "dockerfile/shell_lexer.hpp"
#include "dockerfile/stages.hpp"
#include "util/error.hpp"

using namespace kiln;
using namespace kiln::dockerfile;

namespace {

// The one-line message main() would print for what parse() throws.
std::string error_of(std::string_view text) {
  try {
    parse(text, "Dockerfile");
  } catch (const Error& e) {
    return e.describe();
  }
  return "no error";
}

std::string expand_word(std::string_view word, const Env& env, char escape = '\\') {
  return ShellLexer(escape).process_word(word, env);
}

std::string expand_error(std::string_view word, const Env& env) {
  try {
    expand_word(word, env);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

// ---- parser ---------------------------------------------------------------------

TEST_CASE("instructions keep kind, flags, args, lines and JSON form") {
  auto df = parse("FROM alpine AS build\n"
                  "RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t \\\n"
                  "    make\n"
                  "CMD [\"a\", \"b c\"]\n"
                  "COPY --from=build --chown=1:2 /out /app/\n");
  REQUIRE(df.instructions.size() == 4);
  const auto& run = df.instructions[1];
  CHECK(run.kind == Kind::run);
  CHECK(run.start_line == 2);
  CHECK(run.end_line == 3);
  CHECK(flag_values(run, "mount") ==
        std::vector<std::string>{"type=cache,target=/c", "type=tmpfs,target=/t"});
  CHECK(run.args == std::vector<std::string>{"make"});
  CHECK_FALSE(run.json);
  CHECK(df.instructions[2].json);
  CHECK(df.instructions[2].args == std::vector<std::string>{"a", "b c"});
  const auto& copy = df.instructions[3];
  CHECK(flag_value(copy, "from") == "build");
  CHECK(flag_value(copy, "chown") == "1:2");
  CHECK_FALSE(flag_value(copy, "chmod"));
  CHECK(dump(copy) == R"(copy ["--from=build" "--chown=1:2"] "/out" "/app/")");
}

TEST_CASE("parser directives: escape, syntax, check, only at the top") {
  auto df = parse("# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=all\nFROM a\n"
                  "RUN echo \\\nWORKDIR c:\\dir `\n  sub\n");
  CHECK(df.escape == '`');
  CHECK(df.directive("syntax") == "docker/dockerfile:1");
  CHECK(df.directive("check") == "skip=all");
  REQUIRE(df.instructions.size() == 3);
  CHECK(df.instructions[1].args == std::vector<std::string>{"echo \\"});
  CHECK(df.instructions[2].args == std::vector<std::string>{"c:\\dir   sub"});

  // After a comment or a blank line, "# escape=" is just a comment.
  CHECK(parse("# hello\n# escape=`\nFROM a\n").escape == '\\');
  CHECK(parse("\n# escape=`\nFROM a\n").escape == '\\');
  // After an unknown directive name too.
  CHECK(parse("# foo=bar\n# escape=`\nFROM a\n").escape == '\\');
  CHECK(error_of("# escape=`\n# escape=\\\nFROM a\n") ==
        "Dockerfile:2:1: only one escape parser directive can be used");
  CHECK(error_of("# escape=x\nFROM a\n").find("invalid escape token 'x'") != std::string::npos);
}

TEST_CASE("continuations skip comment and empty lines, warn about empty ones") {
  auto df = parse("FROM a\nRUN one \\\n# comment\n\n  two \\\n   \nthree\nUSER me\n");
  REQUIRE(df.instructions.size() == 3);
  CHECK(df.instructions[1].args == std::vector<std::string>{"one   two three"});
  CHECK(df.instructions[1].start_line == 2);
  CHECK(df.instructions[1].end_line == 7);
  CHECK(df.instructions[2].start_line == 8);
  REQUIRE(df.warnings.size() == 1);
  CHECK(df.warnings[0].message.starts_with("Empty continuation line"));
  // An escaped escape at the end does not continue; a lone escape line does.
  auto two = parse("FROM a\nENV A=x\\\\\nENV B=y\n");
  CHECK(two.instructions.size() == 3);
  // Continuation at end of file, CRLF line ends, a BOM.
  auto eof = parse("\xEF\xBB\xBF" "FROM a\r\nRUN x \\");
  CHECK(eof.instructions[1].args == std::vector<std::string>{"x"});
  CHECK(eof.instructions[0].args == std::vector<std::string>{"a"});
}

TEST_CASE("comments directly above an instruction are kept") {
  auto df = parse("FROM a\n# first\n# second\nRUN x\n");
  CHECK(df.instructions[1].comments == std::vector<std::string>{"first", "second"});
}

TEST_CASE("heredocs") {
  auto df = parse("FROM a\n"
                  "RUN <<EOF\n"
                  "echo $HOME\n"
                  "EOF\n"
                  "RUN <<-\"END\" bash\n"
                  "\t\techo tab\n"
                  "\tEND\n"
                  "RUN cat <<ONE 3<<'TWO'\n"
                  "1\n"
                  "ONE\n"
                  "2\n"
                  "TWO\n"
                  "COPY <<EOF /etc/conf\n"
                  "key=value\n"
                  "EOF\n"
                  "RUN [\"echo\", \"<<EOF\"]\n");
  REQUIRE(df.instructions.size() == 6);
  const auto& plain = df.instructions[1];
  REQUIRE(plain.heredocs.size() == 1);
  CHECK(plain.heredocs[0].name == "EOF");
  CHECK(plain.heredocs[0].content == "echo $HOME\n");
  CHECK(plain.heredocs[0].expand);
  CHECK(plain.start_line == 2);
  CHECK(plain.end_line == 4);
  const auto& chomped = df.instructions[2];
  REQUIRE(chomped.heredocs.size() == 1);
  CHECK(chomped.heredocs[0].name == "END");
  CHECK(chomped.heredocs[0].chomp);
  CHECK_FALSE(chomped.heredocs[0].expand);
  CHECK(chomped.heredocs[0].content == "echo tab\n");
  const auto& two = df.instructions[3];
  REQUIRE(two.heredocs.size() == 2);
  CHECK(two.heredocs[0].content == "1\n");
  CHECK(two.heredocs[0].expand);
  CHECK(two.heredocs[1].name == "TWO");
  CHECK(two.heredocs[1].fd == 3);
  CHECK(two.heredocs[1].content == "2\n");
  CHECK_FALSE(two.heredocs[1].expand);
  const auto& copy = df.instructions[4];
  REQUIRE(copy.heredocs.size() == 1);
  CHECK(copy.args == std::vector<std::string>{"<<EOF", "/etc/conf"});
  CHECK(copy.heredocs[0].content == "key=value\n");
  CHECK(df.instructions[5].heredocs.empty());  // JSON form has no heredocs

  CHECK(error_of("FROM a\nRUN <<EOF\necho\n") == "Dockerfile:2:1: unterminated heredoc");
}

TEST_CASE("errors name file, line and the problem") {
  CHECK(error_of("FROM a\nRUN x\nRUNN y\n") == "Dockerfile:3:1: unknown instruction \"RUNN\"");
  CHECK(error_of("") == "Dockerfile: file with no instructions");
  CHECK(error_of("# only\n\n").starts_with("Dockerfile:2:1: file with no instructions"));
  CHECK(error_of("FROM a\nENV PATH\n") == "Dockerfile:2:1: ENV must have two arguments");
  CHECK(error_of("FROM a\nCMD [\"a\", 1]\n") ==
        "Dockerfile:2:1: when using JSON array syntax, arrays must be comprised of strings only");
  CHECK(error_of("FROM a\nONBUILD ONBUILD RUN x\n") ==
        "Dockerfile:2:1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  CHECK(error_of("FROM a\nONBUILD FROM b\n") ==
        "Dockerfile:2:1: FROM isn't allowed as an ONBUILD trigger");
  CHECK(error_of("FROM a\nONBUILD maintainer me\n") ==
        "Dockerfile:2:1: MAINTAINER isn't allowed as an ONBUILD trigger");
  CHECK(error_of("FROM a\nONBUILD RUNN x\n") == "Dockerfile:2:1: unknown instruction \"RUNN\"");
  CHECK(error_of("FROM a\nCOPY --form=b x y\n") == "Dockerfile:2:1: Unknown flag: form");
  CHECK(error_of("FROM a\nCOPY --from x y\n") == "Dockerfile:2:1: Missing a value on flag: from");
  CHECK(error_of("FROM a\nCOPY --link=maybe x y\n") ==
        "Dockerfile:2:1: expecting boolean value for flag link, not: maybe");
  CHECK(error_of("FROM a\nCOPY x\n").starts_with("Dockerfile:2:1: COPY requires at least two"));
  CHECK(error_of("FROM a b\n") == "Dockerfile:1:1: FROM requires either one or three arguments");
  CHECK(error_of("FROM a AS 1x\n").find("invalid name for build stage") != std::string::npos);
  CHECK(error_of("FROM a\nWORKDIR\n") == "Dockerfile:2:1: WORKDIR requires exactly one argument");
  CHECK(error_of("FROM a\nSHELL /bin/sh -c\n") ==
        "Dockerfile:2:1: SHELL requires the arguments to be in JSON form");
  CHECK(error_of("FROM a\nHEALTHCHECK NONE x\n") ==
        "Dockerfile:2:1: HEALTHCHECK NONE takes no arguments");
  CHECK(error_of("FROM a\nHEALTHCHECK --interval=5 CMD x\n") ==
        "Dockerfile:2:1: time: invalid duration \"5\"");
  CHECK(error_of("FROM a\nVOLUME [\"\"]\n") ==
        "Dockerfile:2:1: VOLUME specified can not be an empty string");
  CHECK(error_of("FROM a\nSTOPSIGNAL SIGKILL\nMAINTAINER me\n") == "no error");
}

TEST_CASE("ONBUILD wraps another instruction") {
  auto df = parse("FROM a\nONBUILD COPY --from=x a b\n");
  const auto& onbuild = df.instructions[1];
  REQUIRE(onbuild.sub);
  CHECK(onbuild.sub->kind == Kind::copy);
  CHECK(flag_value(*onbuild.sub, "from") == "x");
  CHECK(dump(onbuild) == R"(onbuild (copy ["--from=x"] "a" "b"))");
}

TEST_CASE("ENV, LABEL and ARG views") {
  auto df = parse("FROM a\nENV A=1 B=\"two words\"\nENV LEGACY a b c\nLABEL x=y\nARG P Q=2\n");
  CHECK(key_values(df.instructions[1]) ==
        std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "\"two words\""}});
  CHECK(key_values(df.instructions[2]) ==
        std::vector<std::pair<std::string, std::string>>{{"LEGACY", "a b c"}});
  auto args = arg_declarations(df.instructions[4]);
  REQUIRE(args.size() == 2);
  CHECK(args[0].name == "P");
  CHECK_FALSE(args[0].default_value);
  CHECK(args[1].default_value == "2");
}

TEST_CASE("HEALTHCHECK settings and Go durations") {
  auto df = parse("FROM a\nHEALTHCHECK --interval=1m30s --retries=3 CMD curl -f x\n"
                  "HEALTHCHECK CMD [\"/bin/check\", \"-q\"]\nHEALTHCHECK NONE\n");
  auto shell_form = healthcheck_spec(df.instructions[1]);
  CHECK(shell_form.test == std::vector<std::string>{"CMD-SHELL", "curl -f x"});
  CHECK(shell_form.interval == std::chrono::seconds(90));
  CHECK(shell_form.retries == 3);
  CHECK(healthcheck_spec(df.instructions[2]).test ==
        std::vector<std::string>{"CMD", "/bin/check", "-q"});
  CHECK(healthcheck_spec(df.instructions[3]).test == std::vector<std::string>{"NONE"});
  CHECK(parse_duration("250ms") == std::chrono::milliseconds(250));
  CHECK(parse_duration("1.5h") == std::chrono::minutes(90));
  CHECK(parse_duration("0") == std::chrono::nanoseconds(0));
  CHECK_FALSE(parse_duration("10"));
  CHECK_FALSE(parse_duration("3x"));
}

// ---- expansion ----------------------------------------------------------------------

TEST_CASE("expansion: defaults, alternatives, errors") {
  Env env{{"SET", "v"}, {"EMPTY", ""}};
  CHECK(expand_word("${SET:-d}", env) == "v");
  CHECK(expand_word("${EMPTY:-d}", env) == "d");
  CHECK(expand_word("${EMPTY-d}", env) == "");
  CHECK(expand_word("${UNSET-d}", env) == "d");
  CHECK(expand_word("${SET:+alt}", env) == "alt");
  CHECK(expand_word("${EMPTY:+alt}", env) == "");
  CHECK(expand_word("${EMPTY+alt}", env) == "alt");
  CHECK(expand_word("${UNSET+alt}", env) == "");
  CHECK(expand_word("${UNSET:-${SET}x}", env) == "vx");
  CHECK(expand_word("${EMPTY?}", env) == "");
  CHECK(expand_error("${UNSET:?need it}", env).ends_with("UNSET: need it"));
  CHECK(expand_error("${UNSET?}", env).ends_with("UNSET: is not allowed to be unset"));
  CHECK(expand_error("${EMPTY:?}", env).ends_with("EMPTY: is not allowed to be empty"));
  CHECK(expand_error("${SET", env).ends_with("missing '}'"));
  CHECK(expand_error("${}", env).ends_with("bad substitution"));
  CHECK(expand_error("'open", env).find("single-quote") != std::string::npos);
}

TEST_CASE("expansion: quotes and the escape token") {
  Env env{{"V", "a b"}};
  CHECK(expand_word("'$V'", env) == "$V");
  CHECK(expand_word("\"$V\"", env) == "a b");
  CHECK(expand_word("\\$V", env) == "$V");
  CHECK(expand_word("`$V", env, '`') == "$V");
  CHECK(expand_word("c:\\dir", env, '`') == "c:\\dir");
  CHECK(expand_word("\"x\\\"y\"", env) == "x\"y");
  ShellLexer lexer;
  CHECK(lexer.process_words("x $V \"$V\" 'q r'", env) ==
        std::vector<std::string>{"x", "a", "b", "a b", "q r"});
  CHECK(lexer.process_words("a\\ b c", env) == std::vector<std::string>{"a b", "c"});
}

TEST_CASE("expansion: prefix, suffix and replacement patterns") {
  Env env{{"F", "archive.tar.gz"}, {"P", "/usr/local/bin"}};
  CHECK(expand_word("${F#*.}", env) == "tar.gz");
  CHECK(expand_word("${F##*.}", env) == "gz");
  CHECK(expand_word("${F%.*}", env) == "archive.tar");
  CHECK(expand_word("${F%%.*}", env) == "archive");
  CHECK(expand_word("${P/local/opt}", env) == "/usr/opt/bin");
  CHECK(expand_word("${P//\\//:}", env) == ":usr:local:bin");
}

TEST_CASE("expansion records used variables; skip_unset keeps the text") {
  Env env{{"A", "1"}};
  std::set<std::string> used;
  ShellLexer lexer;
  CHECK(lexer.process_word("$A-$B", env, &used) == "1-");
  CHECK(used == std::set<std::string>{"A"});
  lexer.skip_unset = true;
  CHECK(lexer.process_word("$A-$B-${C:-x}", env) == "1-$B-${C:-x}");
}

TEST_CASE("expand() applies to the instructions Docker expands") {
  auto df = parse("FROM a\nCOPY --chown=$U $SRC /d/\nEXPOSE $PORTS\nRUN echo $SRC\n"
                  "ENV X=$SRC Y=\"$U two\"\nCOPY <<EOF /$SRC\nx\nEOF\n");
  Env env{{"U", "1000"}, {"SRC", "app"}, {"PORTS", "80 443/udp"}};
  ShellLexer lexer;
  auto copy = expand(df.instructions[1], lexer, env.lookup());
  CHECK(copy.args == std::vector<std::string>{"app", "/d/"});
  CHECK(flag_value(copy, "chown") == "1000");
  CHECK(expand(df.instructions[2], lexer, env.lookup()).args ==
        std::vector<std::string>{"80", "443/udp"});
  CHECK(expand(df.instructions[3], lexer, env.lookup()).args ==
        std::vector<std::string>{"echo $SRC"});
  CHECK(key_values(expand(df.instructions[4], lexer, env.lookup())) ==
        std::vector<std::pair<std::string, std::string>>{{"X", "app"}, {"Y", "1000 two"}});
  CHECK(expand(df.instructions[5], lexer, env.lookup()).args ==
        std::vector<std::string>{"<<EOF", "/app"});
}

// ---- ARG scoping and stages -----------------------------------------------------------

TEST_CASE("ARG scoping: globals in FROM, re-declaration, overrides, ENV wins") {
  auto df = parse("ARG BASE=alpine\nARG TAG\nARG UNUSED_GLOBAL=1\n"
                  "FROM ${BASE}:${TAG:-latest} AS one\n"
                  "RUN echo\n"
                  "ARG BASE\n"
                  "ARG LOCAL=${BASE}-x\n"
                  "ENV LOCAL=env\n"
                  "ARG TARGETARCH\n");
  BuildArgs build_args{{"TAG", "3.19"}, {"NOPE", "1"}, {"HTTP_PROXY", "http://p"}};
  StageOptions options{build_args, std::nullopt, Platform::parse("linux/arm64"),
                       Platform::parse("linux/amd64")};
  auto plan = plan_stages(df, options);
  REQUIRE(plan.stages.size() == 1);
  CHECK(plan.stages[0].base == "alpine:3.19");
  CHECK(plan.stages[0].name == "one");
  CHECK(plan.unused_build_args == std::vector<std::string>{"NOPE"});

  StageScope scope(plan.globals, build_args);
  // Before ARG BASE the global is not visible inside the stage.
  CHECK(ShellLexer().process_word("[$BASE]", scope.lookup()) == "[]");
  for (std::size_t i : plan.stages[0].instructions) {
    const auto& in = df.instructions[i];
    if (in.kind == Kind::arg) scope.declare(in);
    if (in.kind == Kind::env) scope.apply_env(in);
  }
  CHECK(ShellLexer().process_word("$BASE/$LOCAL/$TARGETARCH", scope.lookup()) == "alpine/env/arm64");
  auto args = scope.args_in_effect();
  CHECK(args == std::vector<std::pair<std::string, std::string>>{
                    {"BASE", "alpine"}, {"LOCAL", "alpine-x"}, {"TARGETARCH", "arm64"}});
  auto run_env = scope.run_env();
  CHECK(run_env.get("LOCAL") == "env");            // ENV beats ARG
  CHECK(run_env.get("HTTP_PROXY") == "http://p");  // proxy args need no ARG
  CHECK_FALSE(run_env.contains("TAG"));             // never declared in the stage
}

TEST_CASE("ARG: build-arg overrides a stage default and is consumed") {
  auto df = parse("FROM a\nARG V=default\n");
  BuildArgs build_args{{"V", "given"}};
  auto plan = plan_stages(df, StageOptions{build_args});
  CHECK(plan.unused_build_args.empty());
  StageScope scope(plan.globals, build_args);
  scope.declare(df.instructions[1]);
  CHECK(scope.run_env().get("V") == "given");
  CHECK(scope.consumed() == std::set<std::string>{"V"});
}

TEST_CASE("stages: target, dependencies and order") {
  auto df = parse("FROM alpine AS base\n"
                  "FROM base AS build\n"
                  "ARG SRC=base\n"
                  "COPY --from=${SRC} /a /a\n"
                  "FROM busybox AS tools\n"
                  "FROM scratch AS unused\n"
                  "FROM scratch\n"
                  "COPY --from=build /out /\n"
                  "RUN --mount=type=bind,from=tools,target=/t true\n"
                  "COPY --from=0 /x /x\n"
                  "COPY --from=docker.io/library/nginx /etc/nginx /etc/nginx\n");
  auto plan = plan_stages(df, {});
  REQUIRE(plan.stages.size() == 5);
  CHECK(plan.target == 4);
  CHECK(plan.stages[1].base_stage == 0u);
  CHECK(plan.stages[4].depends_on == std::set<std::size_t>{0, 1, 2});
  CHECK(plan.order == std::vector<std::size_t>{0, 1, 2, 4});
  CHECK(plan.find("BUILD") == &plan.stages[1]);
  CHECK(plan.find("2") == &plan.stages[2]);

  auto build_only = plan_stages(df, StageOptions{{}, std::string("build")});
  CHECK(build_only.target == 1);
  CHECK(build_only.order == std::vector<std::size_t>{0, 1});
}

TEST_CASE("stages: errors") {
  auto error_of_plan = [](std::string_view text, std::optional<std::string> target = {}) {
    try {
      plan_stages(parse(text), StageOptions{{}, target});
    } catch (const Error& e) {
      return e.describe();
    }
    return std::string("no error");
  };
  CHECK(error_of_plan("FROM a\n", "nope") == "target stage \"nope\" could not be found");
  CHECK(error_of_plan("RUN x\nFROM a\n") == "Dockerfile:1:1: no build stage in current context");
  CHECK(error_of_plan("FROM a AS x\nFROM b AS X\n") == "Dockerfile:2:1: duplicate stage name \"x\"");
  CHECK(error_of_plan("FROM a\nCOPY --from=1 / /\n") ==
        "Dockerfile:2:1: invalid from flag value 1: refers to current or future build stage");
  CHECK(error_of_plan("ARG B\nFROM ${B}\n") == "Dockerfile:2:1: base name (${B}) should not be blank");
  CHECK(error_of_plan("FROM a AS one\nCOPY --from=two / /\nFROM b AS two\nCOPY --from=one / /\n")
            .find("circular dependency detected") != std::string::npos);
}

TEST_CASE("mount_from and platforms") {
  CHECK(mount_from("type=cache,from=builder,target=/x") == "builder");
  CHECK_FALSE(mount_from("type=cache,target=/x"));
  CHECK(Platform::parse("linux/arm/v7").str() == "linux/arm/v7");
  CHECK(Platform::parse("arm64").str() == "linux/arm64");
  CHECK(Platform::parse("linux/aarch64").architecture == "arm64");
  CHECK_THROWS_AS(Platform::parse("a//b"), Error);
}

// ---- .dockerignore ---------------------------------------------------------------------

TEST_CASE("dockerignore: patterns, directories, exceptions") {
  auto ignore = DockerIgnore::parse("# comment\n"
                                    "  \n"
                                    "/build/\n"
                                    "*.log\n"
                                    "!keep.log\n"
                                    "**/node_modules\n"
                                    "docs/**/*.md\n"
                                    "!docs/README.md\n"
                                    "./tmp\n"
                                    "a?c\n"
                                    "[xy].txt\n");
  CHECK(ignore.patterns() == std::vector<std::string>{"build", "*.log", "!keep.log",
                                                      "**/node_modules", "docs/**/*.md",
                                                      "!docs/README.md", "tmp", "a?c", "[xy].txt"});
  CHECK(ignore.excluded("build"));
  CHECK(ignore.excluded("build/obj/x.o"));
  CHECK_FALSE(ignore.excluded("src/build"));
  CHECK(ignore.excluded("err.log"));
  CHECK_FALSE(ignore.excluded("sub/err.log"));  // * does not cross '/'
  CHECK_FALSE(ignore.excluded("keep.log"));
  CHECK(ignore.excluded("node_modules"));
  CHECK(ignore.excluded("a/b/node_modules/x.js"));
  CHECK(ignore.excluded("docs/guide.md"));
  CHECK(ignore.excluded("docs/deep/er/guide.md"));
  CHECK_FALSE(ignore.excluded("docs/README.md"));
  CHECK_FALSE(ignore.excluded("docs/guide.txt"));
  CHECK(ignore.excluded("tmp/x"));
  CHECK(ignore.excluded("abc"));
  CHECK_FALSE(ignore.excluded("abbc"));
  CHECK(ignore.excluded("x.txt"));
  CHECK_FALSE(ignore.excluded("z.txt"));
  CHECK(ignore.has_exceptions());
}

TEST_CASE("dockerignore: last match wins and exceptions inside excluded dirs") {
  auto ignore = DockerIgnore::parse("vendor\n!vendor/keep\nvendor/keep/drop\n");
  CHECK(ignore.excluded("vendor/a"));
  CHECK_FALSE(ignore.excluded("vendor/keep/file"));
  CHECK(ignore.excluded("vendor/keep/drop"));
  CHECK(ignore.may_include_under("vendor"));
  CHECK_FALSE(ignore.may_include_under("other"));

  auto everything = DockerIgnore::parse("*\n!src\n!**/*.go\n");
  CHECK(everything.excluded("README"));
  CHECK_FALSE(everything.excluded("src/main.c"));
  CHECK_FALSE(everything.excluded("pkg/x/y.go"));
  CHECK(everything.may_include_under("pkg/x"));

  auto dot = DockerIgnore::parse(".\n");
  CHECK(dot.patterns() == std::vector<std::string>{"."});
  CHECK_FALSE(dot.excluded("file"));
  auto star_star = DockerIgnore::parse("**\n!Dockerfile\n");
  CHECK(star_star.excluded("a/b/c"));
  CHECK_FALSE(star_star.excluded("Dockerfile"));
  auto suffix = DockerIgnore::parse("**.bak\n");
  CHECK(suffix.excluded("a/b/file.bak"));

  auto sets = DockerIgnore::parse("file[0-9].txt\nlog[^a-c]\n\\*star\nü?x\n");
  CHECK(sets.excluded("file7.txt"));
  CHECK_FALSE(sets.excluded("fileA.txt"));
  CHECK(sets.excluded("logd"));
  CHECK_FALSE(sets.excluded("logb"));
  CHECK(sets.excluded("*star"));
  CHECK_FALSE(sets.excluded("xstar"));
  CHECK(sets.excluded("üéx"));  // '?' is one character, not one byte

  CHECK_THROWS_AS(DockerIgnore::parse("!\n"), Error);
  CHECK_THROWS_AS(DockerIgnore::parse("[a\n"), Error);
}

TEST_CASE("dockerignore helpers") {
  CHECK(clean_path("a//b/../c/") == "a/c");
  CHECK(clean_path("") == ".");
  CHECK(clean_path("/..") == "/");
  CHECK(clean_path("../x") == "../x");
  CHECK(dockerfile_ignore_name("dir/app.Dockerfile") == "dir/app.Dockerfile.dockerignore");
}
