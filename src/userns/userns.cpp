// User namespace entry. First cut: the single-id map (0 -> uid) written directly
// to /proc/self/uid_map, which needs no helper binary. The subuid path through
// newuidmap/newgidmap replaces this.
#include "userns/userns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::userns {

std::vector<IdRange> parse_subid(std::string_view text, std::string_view user_name, uid_t uid) {
  std::vector<IdRange> out;
  std::string uid_text = std::to_string(uid);
  for (const auto& line : util::split(text, '\n')) {
    auto fields = util::split(util::trim(line), ':');
    if (fields.size() != 3) continue;
    if (fields[0] != user_name && fields[0] != uid_text) continue;
    try {
      IdRange r;
      r.host_id = static_cast<std::uint32_t>(std::stoul(fields[1]));
      r.size = static_cast<std::uint32_t>(std::stoul(fields[2]));
      if (r.size) out.push_back(r);
    } catch (const std::exception&) {
    }
  }
  return out;
}

IdMap plan_map(uid_t uid, gid_t gid, const std::vector<IdRange>& sub_uids, const std::vector<IdRange>& sub_gids) {
  IdMap map;
  auto build = [](std::uint32_t own, const std::vector<IdRange>& subs, std::vector<IdRange>& out) {
    out.push_back({0, own, 1});
    std::uint32_t next = 1;
    for (const auto& r : subs) {
      out.push_back({next, r.host_id, r.size});
      next += r.size;
    }
  };
  build(uid, sub_uids, map.uids);
  build(gid, sub_gids, map.gids);
  return map;
}

std::vector<IdRange> parse_id_map(std::string_view text) {
  std::vector<IdRange> out;
  for (const auto& line : util::split(text, '\n')) {
    unsigned long a = 0, b = 0, c = 0;
    if (std::sscanf(line.c_str(), "%lu %lu %lu", &a, &b, &c) == 3)
      out.push_back({static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(c)});
  }
  return out;
}

std::optional<std::uint32_t> to_host(const std::vector<IdRange>& ranges, std::uint32_t container_id) {
  for (const auto& r : ranges)
    if (container_id >= r.container_id && container_id - r.container_id < r.size)
      return r.host_id + (container_id - r.container_id);
  return std::nullopt;
}

namespace {
bool g_inside = false;
}

bool inside() { return g_inside || std::getenv("KILN_USERNS_INSIDE") != nullptr; }

void enter() {
  if (inside()) return;
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  if (uid == 0) {
    if (::unshare(CLONE_NEWNS) < 0) throw util::sys_error("unshare mount namespace");
    g_inside = true;
    return;
  }
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
    throw util::sys_error("unshare user namespace (is kernel.unprivileged_userns_clone enabled?)");
  util::write_all(util::open_file("/proc/self/setgroups", O_WRONLY), "deny");
  util::write_all(util::open_file("/proc/self/uid_map", O_WRONLY), fmt::format("0 {} 1\n", uid));
  util::write_all(util::open_file("/proc/self/gid_map", O_WRONLY), fmt::format("0 {} 1\n", gid));
  g_inside = true;
}

IdMap current_map() {
  IdMap map;
  map.uids = parse_id_map(util::read_file("/proc/self/uid_map"));
  map.gids = parse_id_map(util::read_file("/proc/self/gid_map"));
  return map;
}

IdMap planned_map_for_invoking_user() {
  uid_t uid = ::getuid();
  std::string name;
  if (const char* u = std::getenv("USER")) name = u;
  auto subu = parse_subid(util::try_read_file("/etc/subuid").value_or(""), name, uid);
  auto subg = parse_subid(util::try_read_file("/etc/subgid").value_or(""), name, uid);
  return plan_map(uid, ::getgid(), subu, subg);
}

}  // namespace kiln::userns
