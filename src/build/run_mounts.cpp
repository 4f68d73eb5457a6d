// Parsing RUN --mount values with BuildKit's field names.
#include "build/run_mounts.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::build {
namespace {

bool parse_bool(std::string_view value, std::string_view key) {
  if (value.empty() || value == "true") return true;
  if (value == "false") return false;
  fail(ErrorKind::invalid_input, "--mount: {}={}: want true or false", key, value);
}

unsigned long parse_number(std::string_view value, std::string_view key, int base) {
  try {
    std::size_t used = 0;
    unsigned long n = std::stoul(std::string(value), &used, base);
    if (used == value.size()) return n;
  } catch (const std::exception&) {
  }
  fail(ErrorKind::invalid_input, "--mount: {}={}: not a number", key, value);
}

}  // namespace

RunMount parse_run_mount(std::string_view spec) {
  RunMount m;
  bool typed = false;
  for (const auto& field : util::split(spec, ',')) {
    if (field.empty()) continue;
    auto kv = util::split_once(field, '=');
    std::string key = kv ? kv->first : field;
    std::string value = kv ? kv->second : "";
    if (key == "type") {
      typed = true;
      if (value == "bind") m.type = RunMount::Type::bind;
      else if (value == "cache") m.type = RunMount::Type::cache;
      else if (value == "tmpfs") m.type = RunMount::Type::tmpfs;
      else if (value == "secret") m.type = RunMount::Type::secret;
      else fail(ErrorKind::invalid_input, "--mount: unsupported type \"{}\" (bind, cache, tmpfs, secret)", value);
    } else if (key == "target" || key == "dst" || key == "destination") {
      m.target = value;
    } else if (key == "source" || key == "src") {
      m.source = value;
    } else if (key == "from") {
      m.from = value;
    } else if (key == "id") {
      m.id = value;
    } else if (key == "ro" || key == "readonly") {
      m.read_only = parse_bool(value, key);
    } else if (key == "rw" || key == "readwrite") {
      m.read_only = !parse_bool(value, key);
    } else if (key == "mode") {
      m.mode = static_cast<mode_t>(parse_number(value, key, 8));
    } else if (key == "uid") {
      m.uid = static_cast<uid_t>(parse_number(value, key, 10));
    } else if (key == "gid") {
      m.gid = static_cast<gid_t>(parse_number(value, key, 10));
    } else if (key == "sharing") {
      if (value != "shared" && value != "private" && value != "locked")
        fail(ErrorKind::invalid_input, "--mount: sharing={}: want shared, private or locked", value);
      m.sharing = value;
    } else if (key == "size") {
      m.size = value;
    } else if (key == "required") {
      m.required = parse_bool(value, key);
    } else if (key == "env") {
      m.env = value;
    } else {
      fail(ErrorKind::invalid_input, "--mount: unknown field \"{}\"", key);
    }
  }
  (void)typed;  // bind is the default type, as in BuildKit
  if (m.type == RunMount::Type::secret) {
    if (m.id.empty() && !m.target.empty()) m.id = m.target.substr(m.target.rfind('/') + 1);
    if (m.id.empty()) fail(ErrorKind::invalid_input, "--mount: a secret needs id= or target=");
    if (m.target.empty() && m.env.empty()) m.target = "/run/secrets/" + m.id;
  } else if (m.target.empty()) {
    fail(ErrorKind::invalid_input, "--mount: target= is required");
  }
  if (!m.target.empty() && !m.target.starts_with("/")) m.target = "/" + m.target;
  if (m.type == RunMount::Type::cache && m.id.empty()) m.id = m.target;
  return m;
}

}  // namespace kiln::build
