// cli: option-table rendering, template formatting, column alignment.
#include <doctest/doctest.h>

#include <set>

#include "cli/command.hpp"
#include "cli/env_args.hpp"
#include "cli/format.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

using namespace kiln;
using namespace kiln::cli;

TEST_CASE("columns align like podman's tabwriter (minwidth 12, padding 2)") {
  auto out = align_columns({{"REPOSITORY", "TAG", "IMAGE ID"}, {"localhost/busybox", "latest", "0123456789ab"}});
  CHECK(out ==
        "REPOSITORY         TAG         IMAGE ID\n"
        "localhost/busybox  latest      0123456789ab\n");
}

TEST_CASE("templates: fields, nested fields, json, functions") {
  Json obj = {{"ID", "abc"}, {"Config", {{"Env", {"A=1", "B=2"}}}}, {"Labels", {{"k", "v"}}}, {"N", 3}};
  CHECK(render_template("{{.ID}}", obj) == "abc");
  CHECK(render_template("id={{ .ID }}\\t{{.N}}", obj) == "id=abc\t3");
  CHECK(render_template("{{.Config.Env}}", obj) == "[A=1 B=2]");
  CHECK(render_template("{{json .Config.Env}}", obj) == R"(["A=1","B=2"])");
  CHECK(render_template("{{index .Labels \"k\"}}", obj) == "v");
  CHECK(render_template("{{join .Config.Env \",\"}}", obj) == "A=1,B=2");
  CHECK(render_template("{{upper .ID}}", obj) == "ABC");
  CHECK(render_template("{{.Labels}}", obj) == "map[k:v]");
  CHECK_THROWS_AS(render_template("{{.Nope}}", obj), Error);
  // Empty optional fields below the top level are nil, as in podman's structs.
  CHECK(render_template("{{json .Config.Healthcheck}}", obj) == "null");
  CHECK(render_template("{{.Config.Healthcheck}}", obj) == "<no value>");
  CHECK_THROWS_AS(render_template("{{.ID", obj), Error);
  CHECK_THROWS_AS(render_template("{{frob .ID}}", obj), Error);
}

TEST_CASE("listings: default table, custom table, plain template, json") {
  Listing listing{.default_fields = {"Repository", "Tag", "ID"}, .headers = {{"ID", "IMAGE ID"}}};
  std::vector<Json> rows = {{{"Repository", "localhost/a"}, {"Tag", "latest"}, {"ID", "0123456789ab"}}};
  CHECK(render_listing(rows, "", listing) ==
        "REPOSITORY   TAG         IMAGE ID\n"
        "localhost/a  latest      0123456789ab\n");
  CHECK(render_listing(rows, "table {{.ID}}\t{{.Tag}}", listing) == "IMAGE ID      TAG\n0123456789ab  latest\n");
  CHECK(render_listing(rows, "{{.Repository}}:{{.Tag}}", listing) == "localhost/a:latest\n");
  auto json = util::parse_json(render_listing(rows, "json", listing), "listing");
  CHECK(json.is_array());
  CHECK(json[0]["ID"] == "0123456789ab");
  CHECK(header_for("CreatedAt", listing) == "CREATED AT");
}

TEST_CASE("each command is registered under its own name and aliases, and found by each") {
  auto names = registered_names();
  REQUIRE(names.size() == commands().size());
  std::set<std::vector<std::string>> from_tables, from_registrations(names.begin(), names.end());
  for (const auto& cmd : commands()) {
    std::vector<std::string> own{cmd.name};
    own.insert(own.end(), cmd.aliases.begin(), cmd.aliases.end());
    from_tables.insert(own);
    for (const auto& name : own) {
      const Command* found = find_command(name);
      REQUIRE(found);
      CHECK(found->name == cmd.name);
    }
  }
  CHECK(from_tables == from_registrations);
  CHECK(find_command("no such command") == nullptr);
}

TEST_CASE("every registered command's help fits 80 columns and lists its options") {
  for (const auto& cmd : commands()) {
    std::string help = render_help(cmd);
    CHECK(help.starts_with("Usage: kiln " + cmd.name));
    for (const auto& line : util::split(help, '\n')) CHECK_MESSAGE(line.size() < 80, cmd.name, ": ", line);
    for (const auto& opt : cmd.options) CHECK(help.find("--" + opt.long_name) != std::string::npos);
  }
}

TEST_CASE("completion scripts name every option of every command") {
  for (const char* shell : {"bash", "zsh", "fish"}) {
    std::string script = render_completion(shell);
    for (const auto& cmd : commands()) {
      if (cmd.hidden) continue;
      for (const auto& opt : cmd.options) CHECK_MESSAGE(script.find(opt.long_name) != std::string::npos, shell, " ", cmd.name, " --", opt.long_name);
    }
  }
  CHECK_THROWS_AS(render_completion("tcsh"), Error);
}

TEST_CASE("man pages carry every option") {
  for (const auto& cmd : commands()) {
    std::string page = render_man_page(cmd, "Some prose.\n\n## Examples\n\n    kiln x\n");
    bool has_options_section = page.find(".SH OPTIONS") != std::string::npos;
    CHECK(has_options_section == !cmd.options.empty());
    for (const auto& opt : cmd.options) {
      std::string escaped;
      for (char c : opt.long_name) escaped += c == '-' ? std::string("\\-") : std::string(1, c);
      CHECK(page.find("\\-\\-" + escaped) != std::string::npos);
    }
  }
}

TEST_CASE("-e and --env-file as docker reads them") {
  std::vector<std::string> env;
  add_env_arg(env, "A=1");
  add_env_arg(env, "B=");
  add_env_arg(env, "C=x=y");
  ::setenv("KILN_TEST_FROM_HOST", "host", 1);
  add_env_arg(env, "KILN_TEST_FROM_HOST");
  ::unsetenv("KILN_TEST_UNSET_NAME");
  add_env_arg(env, "KILN_TEST_UNSET_NAME");  // unset: left out
  CHECK(env == std::vector<std::string>{"A=1", "B=", "C=x=y", "KILN_TEST_FROM_HOST=host"});
  CHECK_THROWS_WITH(add_env_arg(env, "=x"), "invalid environment variable \"=x\": no name");

  CHECK_THROWS_WITH(parse_env_file("A=1\nB C=2\n", "env.list"), "env.list:2: variable \"B C\" contains white space");
  CHECK(parse_env_file("# c\n\n  A=1 2\nKILN_TEST_FROM_HOST\n", "f") ==
        std::vector<std::string>{"A=1 2", "KILN_TEST_FROM_HOST=host"});
  try {
    parse_env_file("ok=1\n=x\n", "env.list");
    FAIL("no error for an empty name");
  } catch (const std::exception& e) {
    CHECK(util::describe(e) == "env.list:2: invalid environment variable \"=x\": no name");
  }
}
