// Id maps as data: parsing /etc/subuid and /proc/<pid>/uid_map, planning the map
// kiln asks newuidmap/newgidmap for, and deciding when to fall back to a single id.
// No system calls here except reading the files that describe the current user;
// entering the namespace is enter.cpp.
#include "userns/userns.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::userns {
namespace {

constexpr std::string_view kSingleIdConsequence =
    "running with a single id (files owned by other ids cannot be created)";

std::optional<std::uint32_t> parse_u32(std::string_view text) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

IdMap single_id_map(uid_t uid, gid_t gid) {
  IdMap map;
  map.uids.push_back({0, static_cast<std::uint32_t>(uid), 1});
  map.gids.push_back({0, static_cast<std::uint32_t>(gid), 1});
  return map;
}

// The user's name from the password database; empty when the uid has no entry.
std::string user_name_of(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::string buffer(16384, '\0');
  if (::getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) != 0 || !found) return {};
  return found->pw_name;
}

}  // namespace

std::vector<IdRange> parse_subid(std::string_view text, std::string_view user_name, uid_t uid) {
  std::vector<IdRange> out;
  std::string uid_text = std::to_string(uid);
  for (const auto& line : util::split(text, '\n')) {
    auto fields = util::split(util::trim(line), ':');
    if (fields.size() != 3) continue;
    // shadow's tools accept the owner by name or by numeric id.
    if ((user_name.empty() || fields[0] != user_name) && fields[0] != uid_text) continue;
    auto start = parse_u32(fields[1]);
    auto count = parse_u32(fields[2]);
    if (!start || !count || *count == 0) continue;
    out.push_back({0, *start, *count});
  }
  return out;
}

IdMap plan_map(uid_t uid, gid_t gid, const std::vector<IdRange>& sub_uids, const std::vector<IdRange>& sub_gids) {
  auto build = [](std::uint32_t own, const std::vector<IdRange>& subs) {
    std::vector<IdRange> out{{0, own, 1}};
    std::uint32_t next = 1;
    for (const auto& r : subs) {
      out.push_back({next, r.host_id, r.size});
      next += r.size;
    }
    return out;
  };
  return IdMap{build(static_cast<std::uint32_t>(uid), sub_uids), build(static_cast<std::uint32_t>(gid), sub_gids)};
}

EntryPlan plan_entry(uid_t uid, gid_t gid, std::string_view user_name, std::string_view subuid_text,
                     std::string_view subgid_text, const std::string& newuidmap_path,
                     const std::string& newgidmap_path) {
  std::string who = user_name.empty() ? std::to_string(uid) : std::string(user_name);
  auto sub_uids = parse_subid(subuid_text, user_name, uid);
  auto sub_gids = parse_subid(subgid_text, user_name, uid);
  EntryPlan plan;
  plan.map = single_id_map(uid, gid);
  if (sub_uids.empty())
    plan.warning = fmt::format("no subuid range for {} in /etc/subuid: {}", who, kSingleIdConsequence);
  else if (sub_gids.empty())
    plan.warning = fmt::format("no subgid range for {} in /etc/subgid: {}", who, kSingleIdConsequence);
  else if (newuidmap_path.empty() || newgidmap_path.empty())
    plan.warning = fmt::format("{} not found (install the uidmap package): {}",
                               newuidmap_path.empty() ? "newuidmap" : "newgidmap", kSingleIdConsequence);
  else {
    plan.map = plan_map(uid, gid, sub_uids, sub_gids);
    plan.use_helpers = true;
  }
  return plan;
}

std::vector<IdRange> parse_id_map(std::string_view text) {
  std::vector<IdRange> out;
  for (const auto& line : util::split(text, '\n')) {
    std::vector<std::uint32_t> numbers;
    for (const auto& word : util::split(util::trim(line), ' '))
      if (!word.empty())
        if (auto n = parse_u32(word)) numbers.push_back(*n);
    if (numbers.size() == 3) out.push_back({numbers[0], numbers[1], numbers[2]});
  }
  return out;
}

std::optional<std::uint32_t> to_host(const std::vector<IdRange>& ranges, std::uint32_t container_id) {
  for (const auto& r : ranges)
    if (container_id >= r.container_id && container_id - r.container_id < r.size)
      return r.host_id + (container_id - r.container_id);
  return std::nullopt;
}

IdMap current_map() {
  return IdMap{parse_id_map(util::read_file("/proc/self/uid_map")),
               parse_id_map(util::read_file("/proc/self/gid_map"))};
}

std::vector<std::string> map_helper_args(const char* name, pid_t target, const std::vector<IdRange>& ranges) {
  std::vector<std::string> args{name, std::to_string(target)};
  for (const auto& r : ranges) {
    args.push_back(std::to_string(r.container_id));
    args.push_back(std::to_string(r.host_id));
    args.push_back(std::to_string(r.size));
  }
  return args;
}

std::string find_program(std::string_view name) {
  const char* env_path = std::getenv("PATH");
  std::string search = env_path && *env_path ? env_path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  for (const auto& dir : util::split(search, ':')) {
    if (dir.empty()) continue;
    std::string candidate = fmt::format("{}/{}", dir, name);
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

EntryPlan plan_entry_for(uid_t uid, gid_t gid) {
  return plan_entry(uid, gid, user_name_of(uid), util::try_read_file("/etc/subuid").value_or(""),
                    util::try_read_file("/etc/subgid").value_or(""), find_program("newuidmap"),
                    find_program("newgidmap"));
}

uid_t host_uid() {
  uid_t uid = ::getuid();
  if (uid != 0 || !inside()) return uid;
  // Inside kiln's namespace we are "root": the invoking user is whoever 0 maps to.
  return to_host(current_map().uids, 0).value_or(0);
}

IdMap planned_map_for_invoking_user() {
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  if (uid == 0 && inside()) {
    IdMap now = current_map();
    uid = to_host(now.uids, 0).value_or(0);
    gid = to_host(now.gids, 0).value_or(0);
  }
  if (uid == 0) return current_map();
  return plan_entry_for(uid, gid).map;
}

}  // namespace kiln::userns
