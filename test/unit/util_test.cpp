// util: digests, errors, text formatting, atomic files.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <string>

#include "util/build_id.hpp"
#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

using namespace kiln;

TEST_CASE("program_build_id is the build id readelf shows for this binary") {
  // readelf is a child: /proc/self/exe would be its own, so name ours by pid.
  std::string ours;
  std::string command = "readelf -n /proc/" + std::to_string(::getpid()) + "/exe 2>/dev/null";
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, p))
      if (auto at = std::string_view(line).find("Build ID: "); at != std::string_view::npos)
        ours = std::string(kiln::util::trim(std::string_view(line).substr(at + 10)));
    ::pclose(p);
  }
  REQUIRE_FALSE(ours.empty());
  CHECK(kiln::util::program_build_id() == ours);
  CHECK(kiln::util::program_build_id().data() == kiln::util::program_build_id().data());  // read once
}

TEST_CASE("sha256 of known inputs") {
  CHECK(util::sha256_of("").str() == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(util::sha256_of("abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  util::Sha256 h;
  h.update("a");
  h.update("bc");
  CHECK(h.finish() == util::sha256_of("abc"));
}

TEST_CASE("digest parsing") {
  CHECK(util::Digest::valid("sha256:" + std::string(64, 'a')));
  CHECK_FALSE(util::Digest::valid("sha256:" + std::string(63, 'a')));
  CHECK_FALSE(util::Digest::valid("sha256:" + std::string(64, 'A')));
  CHECK_FALSE(util::Digest::valid("md5:abc"));
  CHECK_THROWS_AS(util::Digest::parse("nope"), Error);
  auto d = util::Digest::parse("sha256:" + std::string(64, 'b'));
  CHECK(d.algorithm() == "sha256");
  CHECK(d.short_hex() == std::string(12, 'b'));
}

TEST_CASE("nested errors render outer context first and keep their kind") {
  try {
    try {
      throw Error("no such image", ErrorKind::not_found);
    } catch (...) {
      util::rethrow_with("rmi {}", "x");
    }
  } catch (const std::exception& e) {
    CHECK(util::describe(e) == "rmi x: no such image");
    CHECK(util::is_not_found(e));
  }
  Error located(SourceLocation{"Dockerfile", 7, 1}, "unknown instruction \"RUNN\"");
  CHECK(located.describe() == "Dockerfile:7:1: unknown instruction \"RUNN\"");
}

TEST_CASE("system errors carry errno and count ENOENT as not found") {
  try {
    util::read_file("/nonexistent/kiln-test");
    FAIL("read_file did not throw");
  } catch (const std::exception& e) {
    CHECK(util::is_not_found(e));
    CHECK(util::errno_of(e) == ENOENT);
    CHECK(util::describe(e).find("/nonexistent/kiln-test") != std::string::npos);
  }
}

TEST_CASE("human sizes match podman's") {
  CHECK(util::human_size(0) == "0 B");
  CHECK(util::human_size(999) == "999 B");
  CHECK(util::human_size(1000) == "1 kB");
  CHECK(util::human_size(4194304) == "4.19 MB");
  CHECK(util::human_size(1500000000) == "1.5 GB");
}

TEST_CASE("human durations") {
  auto now = std::chrono::system_clock::now();
  using namespace std::chrono;
  CHECK(util::human_ago(now, now) == "Less than a second ago");
  CHECK(util::human_ago(now - seconds(30), now) == "30 seconds ago");
  CHECK(util::human_ago(now - minutes(5), now) == "5 minutes ago");
  CHECK(util::human_ago(now - hours(3), now) == "3 hours ago");
  CHECK(util::human_ago(now - hours(24 * 3), now) == "3 days ago");
}

TEST_CASE("rfc3339 round trip") {
  auto t = util::parse_rfc3339("2024-02-29T12:34:56.5Z");
  REQUIRE(t);
  CHECK(util::rfc3339(*t) == "2024-02-29T12:34:56.5Z");
  auto off = util::parse_rfc3339("2024-02-29T14:34:56+02:00");
  REQUIRE(off);
  CHECK(util::rfc3339(*off) == "2024-02-29T12:34:56Z");
  CHECK_FALSE(util::parse_rfc3339("yesterday"));
}

TEST_CASE("atomic write replaces the file and leaves no temporary behind") {
  util::TempDir dir(std::filesystem::temp_directory_path(), "kiln-util-test-");
  auto file = dir.path() / "record";
  util::write_file_atomic(file, "one");
  util::write_file_atomic(file, "two");
  CHECK(util::read_file(file) == "two");
  util::write_file_replace(file, "three", 0600);  // the same without fsync
  CHECK(util::read_file(file) == "three");
  CHECK_THROWS_AS(util::write_file_replace(dir.path() / "no-dir" / "x", "y"), Error);
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("write_new_file creates, never replaces, and leaves nothing when it fails") {
  util::TempDir dir(std::filesystem::temp_directory_path(), "kiln-util-test-");
  auto file = dir.path() / "record";
  util::write_new_file(file, "one", true, 0600);
  CHECK(util::read_file(file) == "one");
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  CHECK_THROWS_AS(util::write_new_file(file, "two", false), Error);  // exists: untouched
  CHECK(util::read_file(file) == "one");
  CHECK_THROWS_AS(util::write_new_file(dir.path() / "no-dir" / "x", "y", false), Error);
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("split and trim") {
  CHECK(util::split("a:b::c", ':') == std::vector<std::string>{"a", "b", "", "c"});
  CHECK(util::trim("  x y \n") == "x y");
  auto kv = util::split_once("A=b=c", '=');
  REQUIRE(kv);
  CHECK(kv->first == "A");
  CHECK(kv->second == "b=c");
}

TEST_CASE("ascii case mapping touches only A-Z and a-z") {
  CHECK(util::ascii_lower("FROM Busybox AS Build-1") == "from busybox as build-1");
  CHECK(util::ascii_upper("healthcheck --interval=5s") == "HEALTHCHECK --INTERVAL=5S");
  CHECK(util::ascii_lower("\xc3\x84Z") == "\xc3\x84z");  // UTF-8 bytes pass through unchanged
  CHECK(util::ascii_upper("") == "");
}
