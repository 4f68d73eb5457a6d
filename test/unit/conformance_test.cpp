// Conformance with BuildKit's own parser and shell-lexer test data, read in
// place from the corpus directory (KILN_CONFORMANCE_DIR at build time, or the
// environment variable of the same name). A missing corpus fails the test.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dockerfile/parser.hpp"
#include "dockerfile/shell_lexer.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

using namespace kiln;
using namespace kiln::dockerfile;
namespace fs = std::filesystem;

namespace {

fs::path corpus_dir() {
  if (const char* env = std::getenv("KILN_CONFORMANCE_DIR"); env && *env) return env;
  return KILN_CONFORMANCE_DIR;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<fs::path> subdirs(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory()) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string trim(std::string_view text) { return std::string(util::trim(text)); }
std::string trim_left(std::string_view text) {
  std::size_t pos = text.find_first_not_of(" \t\r\n\f\v");
  return pos == std::string_view::npos ? std::string() : std::string(text.substr(pos));
}

bool corpus_present() {
  fs::path dir = corpus_dir();
  if (fs::is_directory(dir / "testfiles")) return true;
  FAIL("BuildKit conformance corpus not found at " << dir.string()
       << " (set KILN_CONFORMANCE_DIR to its location)");
  return false;
}

}  // namespace

TEST_CASE("conformance: the corpus is present") { CHECK(corpus_present()); }

TEST_CASE("conformance: testfiles dump exactly as BuildKit's result") {
  if (!corpus_present()) return;
  int passed = 0, total = 0;
  for (const auto& dir : subdirs(corpus_dir() / "testfiles")) {
    ++total;
    std::string name = dir.filename().string();
    INFO("testfile: " << name);
    std::string expected = slurp(dir / "result");
    std::string got;
    try {
      got = dump(parse_syntax(slurp(dir / "Dockerfile"), "Dockerfile"));
    } catch (const std::exception& e) {
      got = "ERROR: " + util::describe(e);
    }
    CHECK(got == expected);
    if (got == expected) ++passed;
  }
  MESSAGE("testfiles: " << passed << "/" << total);
  CHECK(total == 33);
}

TEST_CASE("conformance: negative testfiles fail to parse") {
  if (!corpus_present()) return;
  int passed = 0, total = 0;
  for (const auto& dir : subdirs(corpus_dir() / "testfiles-negative")) {
    ++total;
    INFO("negative: " << dir.filename().string());
    bool threw = false;
    try {
      parse_syntax(slurp(dir / "Dockerfile"), "Dockerfile");
    } catch (const Error& e) {
      threw = true;
      CHECK(e.kind() == ErrorKind::invalid_input);
    }
    CHECK(threw);
    if (threw) ++passed;
  }
  MESSAGE("negatives: " << passed << "/" << total);
  CHECK(total == 4);
}

TEST_CASE("conformance: testfile-line line numbers") {
  if (!corpus_present()) return;
  Dockerfile df = parse_syntax(slurp(corpus_dir() / "testfile-line" / "Dockerfile"), "Dockerfile");
  REQUIRE(df.instructions.size() == 3);
  CHECK(df.instructions.front().start_line == 5);
  CHECK(df.instructions.back().end_line == 31);
  const std::pair<int, int> expected[] = {{5, 5}, {11, 12}, {17, 31}};
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("instruction " << i);
    CHECK(df.instructions[i].start_line == expected[i].first);
    CHECK(df.instructions[i].end_line == expected[i].second);
  }
}

TEST_CASE("conformance: shell envVarTest") {
  if (!corpus_present()) return;
  Env env{{"PWD", "/home"}, {"SHELL", "bash"}, {"KOREAN", "한국어"}, {"NULL", ""}};
  ShellLexer lexer('\\');
  int passed = 0, total = 0, skipped = 0;
  for (const auto& raw : lines_of(slurp(corpus_dir() / "shell" / "envVarTest"))) {
    if (raw.starts_with("#")) continue;
    std::string line = trim(raw);
    if (line.empty()) continue;
    auto fields = util::split(line, '|');
    REQUIRE_MESSAGE(fields.size() == 3, "malformed line: " << line);
    std::string platform = trim(fields[0]), input = trim(fields[1]), expected = trim(fields[2]);
    if (platform != "A" && platform != "U") {
      ++skipped;
      continue;
    }
    ++total;
    INFO("envVarTest: " << line);
    std::string got;
    try {
      got = lexer.process_word(input, env);
    } catch (const Error&) {
      got = "error";
    }
    CHECK(got == expected);
    if (got == expected) ++passed;
  }
  MESSAGE("envVarTest: " << passed << "/" << total << " (" << skipped << " Windows-only skipped)");
  CHECK(total == 228);
}

TEST_CASE("conformance: shell wordsTest") {
  if (!corpus_present()) return;
  Env env;
  ShellLexer lexer('\\');
  int passed = 0, total = 0;
  for (const auto& raw : lines_of(slurp(corpus_dir() / "shell" / "wordsTest"))) {
    if (raw.starts_with("#")) continue;
    if (raw.starts_with("ENV ")) {
      std::string assignment = trim_left(std::string_view(raw).substr(4));
      auto kv = util::split_once(assignment, '=');
      REQUIRE(kv);
      env.set(kv->first, kv->second);
      continue;
    }
    if (trim(raw).empty()) continue;
    auto fields = util::split(raw, '|');
    REQUIRE_MESSAGE(fields.size() == 2, "malformed line: " << raw);
    ++total;
    INFO("wordsTest: " << raw);
    std::string input = trim(fields[0]);
    std::string expected_text = trim_left(fields[1]);
    std::vector<std::string> got;
    bool failed = false;
    try {
      got = lexer.process_words(input, env);
    } catch (const Error&) {
      failed = true;
    }
    bool ok;
    if (expected_text == "error") {
      ok = failed;
    } else {
      ok = !failed && got == util::split(expected_text, ',');
    }
    CHECK(ok);
    if (ok) ++passed;
  }
  MESSAGE("wordsTest: " << passed << "/" << total);
  CHECK(total == 24);
}
