// userns: subid parsing, map planning, the single-id fallback decision, uid_map
// parsing and id translation, the holder record and its validation; suite "userns"
// enters a namespace in a forked child.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "userns/holder.hpp"
#include "userns/userns.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

using namespace kiln;
using userns::IdRange;

TEST_CASE("parse_subid picks the user's ranges by name or uid") {
  std::string text =
      "alice:100000:65536\n"
      "bob:165536:65536\n"
      "# comment\n"
      "1000:300000:10\n"
      "alice:400000:0\n"        // empty range: ignored
      "alice:x:5\n"             // malformed: ignored
      "alice:500000:5:extra\n"  // wrong field count: ignored
      "  alice:600000:7  \n";
  auto ranges = userns::parse_subid(text, "alice", 1000);
  REQUIRE(ranges.size() == 3);
  CHECK(ranges[0] == IdRange{0, 100000, 65536});
  CHECK(ranges[1] == IdRange{0, 300000, 10});
  CHECK(ranges[2] == IdRange{0, 600000, 7});
  CHECK(userns::parse_subid(text, "carol", 1234).empty());
  CHECK(userns::parse_subid(text, "", 1000).size() == 1);
  CHECK(userns::parse_subid("", "alice", 1000).empty());
}

TEST_CASE("plan_map puts the user at 0 and the ranges after it") {
  auto map = userns::plan_map(1000, 1001, {{0, 100000, 65536}, {0, 300000, 10}}, {{0, 200000, 5}});
  REQUIRE(map.uids.size() == 3);
  CHECK(map.uids[0] == IdRange{0, 1000, 1});
  CHECK(map.uids[1] == IdRange{1, 100000, 65536});
  CHECK(map.uids[2] == IdRange{65537, 300000, 10});
  REQUIRE(map.gids.size() == 2);
  CHECK(map.gids[0] == IdRange{0, 1001, 1});
  CHECK(map.gids[1] == IdRange{1, 200000, 5});
  CHECK_FALSE(map.single_id());
  CHECK(userns::plan_map(1000, 1000, {}, {}).single_id());
}

TEST_CASE("plan_entry falls back to a single id with one warning") {
  const std::string uidmap = "/usr/bin/newuidmap", gidmap = "/usr/bin/newgidmap";
  SUBCASE("with ranges and helpers") {
    auto plan = userns::plan_entry(1000, 1000, "alice", "alice:100000:65536\n", "alice:100000:65536\n", uidmap,
                                   gidmap);
    CHECK(plan.use_helpers);
    CHECK(plan.warning.empty());
    CHECK(plan.map.uids.size() == 2);
  }
  SUBCASE("no subuid entry") {
    auto plan = userns::plan_entry(1000, 1000, "alice", "bob:1:2\n", "alice:100000:65536\n", uidmap, gidmap);
    CHECK_FALSE(plan.use_helpers);
    CHECK(plan.map.single_id());
    CHECK(plan.warning ==
          "no subuid range for alice in /etc/subuid: running with a single id (files owned by other ids "
          "cannot be created)");
  }
  SUBCASE("no subgid entry") {
    auto plan = userns::plan_entry(1000, 1000, "alice", "alice:100000:65536\n", "", uidmap, gidmap);
    CHECK_FALSE(plan.use_helpers);
    CHECK(plan.warning.starts_with("no subgid range for alice in /etc/subgid"));
  }
  SUBCASE("missing newuidmap names the program") {
    auto plan = userns::plan_entry(1000, 1000, "alice", "alice:100000:65536\n", "alice:100000:65536\n", "", gidmap);
    CHECK_FALSE(plan.use_helpers);
    CHECK(plan.map.single_id());
    CHECK(plan.warning.starts_with("newuidmap not found"));
  }
  SUBCASE("no password entry: the uid names the user") {
    auto plan = userns::plan_entry(4242, 4242, "", "", "", uidmap, gidmap);
    CHECK(plan.warning.starts_with("no subuid range for 4242 in /etc/subuid"));
  }
}

TEST_CASE("parse_id_map and to_host") {
  auto ranges = userns::parse_id_map("         0       1000          1\n         1     100000      65536\n");
  REQUIRE(ranges.size() == 2);
  CHECK(ranges[1] == IdRange{1, 100000, 65536});
  CHECK(userns::to_host(ranges, 0) == 1000U);
  CHECK(userns::to_host(ranges, 1) == 100000U);
  CHECK(userns::to_host(ranges, 65536) == 165535U);
  CHECK_FALSE(userns::to_host(ranges, 65537).has_value());
  auto identity = userns::parse_id_map("0 0 4294967295\n");
  CHECK(userns::to_host(identity, 4294967294U) == 4294967294U);
  CHECK(userns::parse_id_map("garbage\n1 2\n").empty());
}

TEST_CASE("holder records: format, parse, and refuse anything else") {
  userns::HolderRecord record{4242, 987654, 4026532194};
  std::string text = userns::format_holder_record(record);
  CHECK(text == "pid 4242\nstart 987654\nuserns 4026532194\n");
  auto back = userns::parse_holder_record(text);
  REQUIRE(back);
  CHECK(*back == record);
  for (std::string bad : {"", "garbage\n", "pid 4242\nstart 987654\n", "pid 0\nstart 1\nuserns 1\n",
                          "pid -1\nstart 1\nuserns 1\n", "pid 12x\nstart 1\nuserns 1\n",
                          "start 1\npid 2\nuserns 1\n", "pid 99999999999\nstart 1\nuserns 1\n",
                          "pid 1\nstart 1\nuserns 1\nextra 1\n"})
    CHECK_MESSAGE(!userns::parse_holder_record(bad), bad);
}

TEST_CASE("a holder is trusted only when pid, namespace, owner and map all match") {
  userns::IdMap planned = userns::plan_map(1001, 1001, {{0, 100000, 65536}}, {{0, 100000, 65536}});
  userns::HolderRecord record{4242, 987654, 4026532194};
  userns::HolderObservation seen{987654, 4026532194, 1001, planned};
  CHECK(userns::holder_matches(record, seen, 1001, planned));

  auto changed = seen;
  changed.start_time += 1;  // the pid was reused by a later process
  CHECK_FALSE(userns::holder_matches(record, changed, 1001, planned));
  changed = seen;
  changed.userns_inode += 1;  // the process is in another namespace
  CHECK_FALSE(userns::holder_matches(record, changed, 1001, planned));
  CHECK_FALSE(userns::holder_matches(record, seen, 1002, planned));  // someone else's namespace
  changed = seen;
  changed.map.uids.pop_back();  // the subuid range changed since it started
  CHECK_FALSE(userns::holder_matches(record, changed, 1001, planned));
  changed = seen;
  changed.map.gids[1].size = 1000;
  CHECK_FALSE(userns::holder_matches(record, changed, 1001, planned));
  CHECK(userns::holder_record_path("/run/user/1001/kiln") == "/run/user/1001/kiln/userns-holder");
}

TEST_CASE("find_program") {
  CHECK_FALSE(userns::find_program("sh").empty());
  CHECK(userns::find_program("kiln-no-such-program").empty());
}

// Runs f in a forked child (so this process keeps its namespaces) and returns what it
// wrote to the pipe; "error: ..." when it threw.
template <typename F>
std::string in_child(F f) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  util::UniqueFd reader{util::adopt, fds[0]};
  util::UniqueFd writer{util::adopt, fds[1]};
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::string out;
    try {
      out = f();
    } catch (const std::exception& e) {
      out = std::string("error: ") + e.what();
    }
    util::write_all(writer, out);
    ::_exit(0);
  }
  writer.reset();
  std::string out = util::read_all(reader);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(status == 0);
  return out;
}

TEST_SUITE("userns") {
  TEST_CASE("enter maps 0 to the invoking user") {
    if (userns::inside()) {
      MESSAGE("already inside kiln's namespace: skipped");
      return;
    }
    ::unsetenv(userns::kInsideEnv);
    uid_t uid = ::getuid();
    auto planned = userns::planned_map_for_invoking_user();
    std::string out = in_child([] {
      std::string mnt_before(256, '\0');
      mnt_before.resize(static_cast<size_t>(std::max<ssize_t>(0, ::readlink("/proc/self/ns/mnt", mnt_before.data(), 255))));
      userns::enter();
      std::string mnt_after(256, '\0');
      mnt_after.resize(static_cast<size_t>(std::max<ssize_t>(0, ::readlink("/proc/self/ns/mnt", mnt_after.data(), 255))));
      return std::string(mnt_before != mnt_after ? "newmnt\n" : "samemnt\n") + std::to_string(::getuid()) + "\n" +
             (userns::inside() ? "inside\n" : "outside\n") + util::read_file("/proc/self/uid_map");
    });
    if (out.find("Operation not permitted") != std::string::npos) {
      MESSAGE("user namespaces unavailable here: " << out);
      return;
    }
    INFO(out);
    REQUIRE(out.starts_with("newmnt\n0\ninside\n"));
    auto map = userns::parse_id_map(out.substr(out.find("inside\n") + 7));
    if (uid == 0) {
      CHECK(userns::to_host(map, 0) == 0U);
    } else {
      CHECK(map == planned.uids);
      CHECK(userns::to_host(map, 0) == uid);
    }
  }

  TEST_CASE("enter is skipped when the mark matches") {
    std::string out = in_child([] {
      userns::enter();
      std::string first = util::read_file("/proc/self/uid_map");
      userns::enter();  // second call: no new namespace
      return first == util::read_file("/proc/self/uid_map") ? std::string("same") : std::string("changed");
    });
    if (out.starts_with("error:")) {
      MESSAGE("user namespaces unavailable here: " << out);
      return;
    }
    CHECK(out == "same");
  }
}

TEST_CASE("map_helper_args: name, pid, then container host size per range") {
  std::vector<userns::IdRange> ranges{{0, 1001, 1}, {1, 100000, 65536}};
  CHECK(userns::map_helper_args("newuidmap", 42, ranges) ==
        std::vector<std::string>{"newuidmap", "42", "0", "1001", "1", "1", "100000", "65536"});
}
