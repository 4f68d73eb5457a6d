// Short link names, overlay option strings, and making the links on disk.
#include "snapshot/overlay_options.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <set>

#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::snapshot {

std::string short_link_name(const fs::path& lower) {
  util::Digest digest = util::sha256_of(lower.lexically_normal().string());
  // 50 bits from the first 13 hex digits (52 bits), 5 bits a character.
  std::uint64_t bits = std::stoull(std::string(digest.hex().substr(0, 13)), nullptr, 16) >> 2;
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string name(10, 'a');
  for (int i = 9; i >= 0; --i) {
    name[static_cast<std::size_t>(i)] = kAlphabet[bits & 31];
    bits >>= 5;
  }
  return name;
}

std::string escape_overlay_path(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    if (c == ',' || c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::vector<std::string> lower_link_names(const std::vector<fs::path>& lowers, bool read_only) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& lower : lowers) {
    std::string name = short_link_name(lower);
    if (!seen.insert(name).second)
      fail(ErrorKind::invalid_input, "lower {} appears twice in the layer stack (or its short name {} collides)",
           lower.string(), name);
    names.push_back(std::move(name));
  }
  // Overlay refuses a mount without lowers, and a lower-only mount with just one.
  if (names.empty()) names.emplace_back(kEmptyLowerName);
  if (read_only && names.size() == 1) names.emplace_back(kEmptyLowerName);
  return names;
}

std::string overlay_mount_data(const OverlayOptions& options) {
  std::string data = "lowerdir=";
  for (std::size_t i = 0; i < options.lower_names.size(); ++i) {
    if (i > 0) data += ':';
    data += escape_overlay_path(options.lower_names[i]);
  }
  if (!options.upper.empty()) {
    data += ",upperdir=" + escape_overlay_path(options.upper.string());
    data += ",workdir=" + escape_overlay_path(options.work.string());
  }
  if (options.userxattr) data += ",userxattr";
  if (options.volatile_upper && !options.upper.empty()) data += ",volatile";
  if (data.size() > kMaxMountData)
    fail(ErrorKind::invalid_input,
         "overlay mount options for {} layers take {} bytes, more than the {} bytes mount(2) accepts",
         options.lower_names.size(), data.size(), kMaxMountData);
  return data;
}

namespace {

// Points links_dir/name at target, replacing a stale link atomically (symlink to a
// private temporary name, then rename over), so concurrent makers never see a gap.
void ensure_link(const fs::path& links_dir, const std::string& name, const fs::path& target) {
  fs::path link = links_dir / name;
  std::error_code ec;
  fs::path current = fs::read_symlink(link, ec);
  if (!ec && current == target) return;
  if (::symlink(target.c_str(), link.c_str()) == 0) return;
  if (errno != EEXIST) throw util::sys_error("symlink {} -> {}", link.string(), target.string());
  static std::atomic<unsigned> counter{0};
  fs::path tmp = links_dir / fmt::format(".tmp-{}-{}-{}", name, ::getpid(), counter++);
  if (::symlink(target.c_str(), tmp.c_str()) < 0)
    throw util::sys_error("symlink {} -> {}", tmp.string(), target.string());
  if (::rename(tmp.c_str(), link.c_str()) < 0) {
    auto error = util::sys_error("rename {} to {}", tmp.string(), link.string());
    ::unlink(tmp.c_str());
    throw error;
  }
}

}  // namespace

void make_short_links(const fs::path& links_dir, const std::vector<fs::path>& lowers) {
  try {
    util::make_dirs(links_dir, 0700);
    fs::path empty = links_dir / kEmptyLowerName;
    if (::mkdir(empty.c_str(), 0755) < 0 && errno != EEXIST) throw util::sys_error("mkdir {}", empty.string());
    for (const auto& lower : lowers) ensure_link(links_dir, short_link_name(lower), lower.lexically_normal());
  } catch (...) {
    util::rethrow_with("make layer links in {}", links_dir.string());
  }
}

}  // namespace kiln::snapshot
