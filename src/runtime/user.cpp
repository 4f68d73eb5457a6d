// USER resolution with runc's rules: by name or by number, supplementary groups from
// the member lists of /etc/group. Malformed lines are skipped, as runc does.
#include "runtime/user.hpp"

#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::runtime {
namespace {

struct PasswdEntry {
  std::string name;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

struct GroupEntry {
  std::string name;
  std::uint32_t gid = 0;
  std::vector<std::string> members;
};

/// A decimal id in [0, 2^31 - 1], the range runc accepts; nullopt otherwise.
std::optional<std::uint32_t> parse_id(std::string_view text) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value > 0x7fffffffu)
    return std::nullopt;
  return value;
}

std::vector<PasswdEntry> parse_passwd(std::string_view text) {
  std::vector<PasswdEntry> out;
  for (const auto& line : util::split(text, '\n')) {
    auto fields = util::split(line, ':');
    if (fields.size() < 4 || fields[0].empty() || fields[0][0] == '#') continue;
    auto uid = parse_id(fields[2]);
    auto gid = parse_id(fields[3]);
    if (!uid || !gid) continue;
    out.push_back({fields[0], *uid, *gid});
  }
  return out;
}

std::vector<GroupEntry> parse_group(std::string_view text) {
  std::vector<GroupEntry> out;
  for (const auto& line : util::split(text, '\n')) {
    auto fields = util::split(line, ':');
    if (fields.size() < 3 || fields[0].empty() || fields[0][0] == '#') continue;
    auto gid = parse_id(fields[2]);
    if (!gid) continue;
    GroupEntry entry{fields[0], *gid, {}};
    if (fields.size() > 3)
      for (auto& member : util::split(fields[3], ','))
        if (!util::trim(member).empty()) entry.members.emplace_back(util::trim(member));
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

UserIds resolve_user(std::string_view spec, std::string_view passwd_text, std::string_view group_text) {
  UserIds ids;
  std::string user_arg(spec);
  std::string group_arg;
  if (auto parts = util::split_once(spec, ':')) {
    user_arg = parts->first;
    group_arg = parts->second;
  }
  if (user_arg.empty() && group_arg.empty()) return ids;

  // The user: a numeric argument matches by uid, a name by name.
  std::optional<std::string> matched_name;
  auto user_number = parse_id(user_arg);
  if (!user_arg.empty()) {
    for (const auto& entry : parse_passwd(passwd_text)) {
      if (user_number ? entry.uid == *user_number : entry.name == user_arg) {
        ids.uid = entry.uid;
        ids.gid = entry.gid;
        matched_name = entry.name;
        break;
      }
    }
    if (!matched_name) {
      if (!user_number)
        fail(ErrorKind::invalid_input, "unable to find user {}: no matching entries in passwd file", user_arg);
      ids.uid = *user_number;
    }
  }

  // The group: explicit wins and brings no supplementary groups; otherwise membership.
  if (!group_arg.empty()) {
    auto group_number = parse_id(group_arg);
    bool found = false;
    for (const auto& entry : parse_group(group_text)) {
      if (group_number ? entry.gid == *group_number : entry.name == group_arg) {
        ids.gid = entry.gid;
        found = true;
        break;
      }
    }
    if (!found) {
      if (!group_number)
        fail(ErrorKind::invalid_input, "unable to find group {}: no matching entries in group file", group_arg);
      ids.gid = *group_number;
    }
  } else if (matched_name) {
    for (const auto& entry : parse_group(group_text))
      for (const auto& member : entry.members)
        if (member == *matched_name) {
          ids.groups.push_back(entry.gid);
          break;
        }
  }
  return ids;
}

}  // namespace kiln::runtime
