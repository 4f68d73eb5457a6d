// Unit tests for the build module's pure parts: step cache keys, history lines,
// RUN --mount parsing and git context sources.
#include <doctest/doctest.h>

#include "build/cache.hpp"
#include "build/context.hpp"
#include "build/history.hpp"
#include "build/run_mounts.hpp"
#include "util/error.hpp"

using namespace kiln;
using namespace kiln::build;

TEST_CASE("step keys depend on the parent and every part") {
  auto a = step_key("p", {"RUN", "echo hi"});
  CHECK(a.size() == 64);
  CHECK(a == step_key("p", {"RUN", "echo hi"}));
  CHECK(a != step_key("q", {"RUN", "echo hi"}));
  CHECK(a != step_key("p", {"RUN", "echo hi", ""}));
  // Length prefixes keep part boundaries apart.
  CHECK(step_key("p", {"ab", "c"}) != step_key("p", {"a", "bc"}));
}

TEST_CASE("history lines follow buildah") {
  CHECK(nop_created_by("ENV A=b") == "/bin/sh -c #(nop) ENV A=b");
  CHECK(run_created_by({"/bin/sh", "-c", "echo hi"}, {}) == "/bin/sh -c echo hi");
  CHECK(run_created_by({"/bin/sh", "-c", "echo hi"}, {{"A", "1"}, {"B", "2"}}) == "|2 A=1 B=2 /bin/sh -c echo hi");
  CHECK(copy_created_by("COPY", "file", "abc", "/dst") == "/bin/sh -c #(nop) COPY file:abc in /dst ");
  CHECK(json_words({"/app/hello.sh", "x y"}) == R"(["/app/hello.sh","x y"])");
}

TEST_CASE("RUN --mount values") {
  auto cache = parse_run_mount("type=cache,target=/root/.cache,sharing=locked,uid=5,mode=0700");
  CHECK(cache.type == RunMount::Type::cache);
  CHECK(cache.id == "/root/.cache");
  CHECK(cache.sharing == "locked");
  CHECK(cache.uid == 5);
  CHECK(cache.mode == 0700);
  auto bind = parse_run_mount("target=x,source=src,from=builder,rw");
  CHECK(bind.type == RunMount::Type::bind);
  CHECK(bind.target == "/x");
  CHECK(bind.read_only == false);
  CHECK(bind.from == "builder");
  auto secret = parse_run_mount("type=secret,id=token");
  CHECK(secret.target == "/run/secrets/token");
  auto tmpfs = parse_run_mount("type=tmpfs,target=/t,size=10m");
  CHECK(tmpfs.size == "10m");
  CHECK_THROWS_AS(parse_run_mount("type=volume,target=/x"), Error);
  CHECK_THROWS_AS(parse_run_mount("type=cache"), Error);
  CHECK_THROWS_AS(parse_run_mount("type=cache,target=/x,sharing=maybe"), Error);
  CHECK_THROWS_AS(parse_run_mount("type=cache,target=/x,bogus=1"), Error);
}

TEST_CASE("git context sources") {
  CHECK_FALSE(parse_git_source("."));
  CHECK_FALSE(parse_git_source("dir/ctx.tar"));
  auto g = parse_git_source("repo.git#main:sub/dir");
  REQUIRE(g);
  CHECK(g->url == "repo.git");
  CHECK(g->ref == "main");
  CHECK(g->subdir == "sub/dir");
  auto f = parse_git_source("file:///srv/repo");
  REQUIRE(f);
  CHECK(f->url == "file:///srv/repo");
  CHECK(f->ref.empty());
}
