// Image config reading and writing. Writing a parsed config overlays only what
// changed since parsing onto the original JSON: a field kiln reads as empty
// may be null, [] or absent in the original, and only a real change may touch it.
#include "image/config.hpp"

#include "image/json_text.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::image {
namespace {

constexpr std::string_view kWhere = "image config";

std::set<std::string> set_of(std::vector<std::string> keys) { return {keys.begin(), keys.end()}; }

OrderedJson empty_object_set(const std::set<std::string>& keys) {
  OrderedJson out = OrderedJson::object();
  for (const auto& key : keys) out[key] = OrderedJson::object();
  return out;
}

RunConfig parse_run_config(const OrderedJson& json) {
  constexpr std::string_view where = "image config: config";
  field::require_object(json, where);
  RunConfig c;
  c.user = field::string(json, "User", where);
  c.exposed_ports = set_of(field::key_set(json, "ExposedPorts", where));
  c.env = field::strings(json, "Env", where);
  c.entrypoint = field::strings(json, "Entrypoint", where);
  c.cmd = field::strings(json, "Cmd", where);
  c.volumes = set_of(field::key_set(json, "Volumes", where));
  c.working_dir = field::string(json, "WorkingDir", where);
  c.labels = field::string_map(json, "Labels", where);
  c.stop_signal = field::string(json, "StopSignal", where);
  if (const OrderedJson* health = field::find(json, "Healthcheck")) {
    constexpr std::string_view hwhere = "image config: config.Healthcheck";
    field::require_object(*health, hwhere);
    Healthcheck h;
    h.test = field::strings(*health, "Test", hwhere);
    h.interval = field::integer(*health, "Interval", hwhere);
    h.timeout = field::integer(*health, "Timeout", hwhere);
    h.start_period = field::integer(*health, "StartPeriod", hwhere);
    h.start_interval = field::integer(*health, "StartInterval", hwhere);
    h.retries = field::integer(*health, "Retries", hwhere);
    c.healthcheck = std::move(h);
  }
  c.on_build = field::strings(json, "OnBuild", where);
  c.shell = field::strings(json, "Shell", where);
  c.args_escaped = field::boolean(json, "ArgsEscaped", where);
  return c;
}

HistoryEntry parse_history(const OrderedJson& json, std::string_view where) {
  field::require_object(json, where);
  HistoryEntry h;
  h.created = field::string(json, "created", where);
  h.created_by = field::string(json, "created_by", where);
  h.author = field::string(json, "author", where);
  h.comment = field::string(json, "comment", where);
  h.empty_layer = field::boolean(json, "empty_layer", where);
  return h;
}

// Writes into out what changed from base to current; all three are objects.
// A nested object that changed is merged the same way, so its unknown fields stay.
void overlay(OrderedJson& out, const OrderedJson& current, const OrderedJson& base) {
  for (const auto& [key, value] : current.items()) {
    auto old = base.find(key);
    if (old != base.end() && *old == value) continue;
    auto target = out.find(key);
    if (target != out.end() && target->is_object() && value.is_object() && old != base.end() &&
        old->is_object()) {
      overlay(*target, value, *old);
    } else {
      out[key] = value;
    }
  }
  for (const auto& [key, value] : base.items())
    if (!current.contains(key)) out.erase(key);
}

}  // namespace

std::optional<std::string> RunConfig::env_value(std::string_view name) const {
  for (const auto& entry : env) {
    std::string_view e = entry;
    if (e.size() > name.size() && e.starts_with(name) && e[name.size()] == '=')
      return std::string(e.substr(name.size() + 1));
    if (e == name) return std::string();
  }
  return std::nullopt;
}

void RunConfig::set_env(std::string_view name, std::string_view value) {
  std::string entry = fmt::format("{}={}", name, value);
  for (auto& e : env) {
    std::string_view view = e;
    if (view == name || (view.starts_with(name) && view.size() > name.size() && view[name.size()] == '=')) {
      e = std::move(entry);
      return;
    }
  }
  env.push_back(std::move(entry));
}

OrderedJson run_config_json(const RunConfig& c) {
  OrderedJson out = OrderedJson::object();
  if (!c.user.empty()) out["User"] = c.user;
  if (!c.exposed_ports.empty()) out["ExposedPorts"] = empty_object_set(c.exposed_ports);
  if (!c.env.empty()) out["Env"] = c.env;
  if (!c.entrypoint.empty()) out["Entrypoint"] = c.entrypoint;
  if (!c.cmd.empty()) out["Cmd"] = c.cmd;
  if (!c.volumes.empty()) out["Volumes"] = empty_object_set(c.volumes);
  if (!c.working_dir.empty()) out["WorkingDir"] = c.working_dir;
  if (!c.labels.empty()) out["Labels"] = c.labels;
  if (!c.stop_signal.empty()) out["StopSignal"] = c.stop_signal;
  if (c.args_escaped) out["ArgsEscaped"] = true;
  if (c.healthcheck) {
    const Healthcheck& h = *c.healthcheck;
    OrderedJson health = OrderedJson::object();
    if (!h.test.empty()) health["Test"] = h.test;
    if (h.interval) health["Interval"] = h.interval;
    if (h.timeout) health["Timeout"] = h.timeout;
    if (h.start_period) health["StartPeriod"] = h.start_period;
    if (h.start_interval) health["StartInterval"] = h.start_interval;
    if (h.retries) health["Retries"] = h.retries;
    out["Healthcheck"] = std::move(health);
  }
  if (!c.on_build.empty()) out["OnBuild"] = c.on_build;
  if (!c.shell.empty()) out["Shell"] = c.shell;
  return out;
}

OrderedJson history_json(const HistoryEntry& h) {
  OrderedJson out = OrderedJson::object();
  if (!h.created.empty()) out["created"] = h.created;
  if (!h.created_by.empty()) out["created_by"] = h.created_by;
  if (!h.author.empty()) out["author"] = h.author;
  if (!h.comment.empty()) out["comment"] = h.comment;
  if (h.empty_layer) out["empty_layer"] = true;
  return out;
}

ImageConfig ImageConfig::parse(std::string_view text) {
  OrderedJson json = parse_ordered_json(text, kWhere);
  field::require_object(json, kWhere);
  ImageConfig c;
  c.created = field::string(json, "created", kWhere);
  c.author = field::string(json, "author", kWhere);
  c.architecture = field::string(json, "architecture", kWhere);
  c.os = field::string(json, "os", kWhere);
  c.os_version = field::string(json, "os.version", kWhere);
  c.os_features = field::strings(json, "os.features", kWhere);
  c.variant = field::string(json, "variant", kWhere);
  if (const OrderedJson* run = field::find(json, "config")) c.config = parse_run_config(*run);
  if (const OrderedJson* rootfs = field::find(json, "rootfs")) {
    constexpr std::string_view where = "image config: rootfs";
    field::require_object(*rootfs, where);
    c.rootfs_type = field::string(*rootfs, "type", where);
    for (const auto& id : field::strings(*rootfs, "diff_ids", where)) {
      if (!util::Digest::valid(id))
        fail(ErrorKind::invalid_input, "{}: invalid diff id \"{}\"", where, id);
      c.diff_ids.push_back(util::Digest::parse(id));
    }
  }
  if (const OrderedJson* history = field::find(json, "history")) {
    if (!history->is_array()) fail(ErrorKind::invalid_input, "image config: field \"history\" must be an array");
    for (std::size_t i = 0; i < history->size(); ++i)
      c.history.push_back(parse_history((*history)[i], fmt::format("image config: history[{}]", i)));
  }
  c.raw_ = std::string(text);
  c.original_ = std::move(json);
  c.known_at_parse_ = c.known_json();
  return c;
}

OrderedJson ImageConfig::known_json() const {
  OrderedJson out = OrderedJson::object();
  if (!created.empty()) out["created"] = created;
  if (!author.empty()) out["author"] = author;
  out["architecture"] = architecture;
  out["os"] = os;
  if (!os_version.empty()) out["os.version"] = os_version;
  if (!os_features.empty()) out["os.features"] = os_features;
  if (!variant.empty()) out["variant"] = variant;
  out["config"] = run_config_json(config);
  OrderedJson rootfs = OrderedJson::object();
  rootfs["type"] = rootfs_type;
  rootfs["diff_ids"] = OrderedJson::array();
  for (const auto& id : diff_ids) rootfs["diff_ids"].push_back(id.str());
  out["rootfs"] = std::move(rootfs);
  if (!history.empty()) {
    out["history"] = OrderedJson::array();
    for (const auto& h : history) out["history"].push_back(history_json(h));
  }
  return out;
}

std::string ImageConfig::serialize() const {
  OrderedJson current = known_json();
  if (original_.is_null()) return go_json(current);
  OrderedJson out = original_;
  overlay(out, current, known_at_parse_);
  return go_json(out);
}

std::string ImageConfig::bytes() const {
  if (!raw_.empty() && known_json() == known_at_parse_) return raw_;
  return serialize();
}

util::Digest ImageConfig::digest() const { return util::sha256_of(bytes()); }

ImageConfig ImageConfig::fresh() const {
  ImageConfig copy = *this;
  copy.raw_.clear();
  copy.original_ = OrderedJson();
  copy.known_at_parse_ = OrderedJson();
  return copy;
}

const OrderedJson* ImageConfig::original_field(std::string_view key) const {
  return field::find(original_, key);
}

std::optional<std::chrono::system_clock::time_point> ImageConfig::created_time() const {
  if (created.empty()) return std::nullopt;
  return util::parse_rfc3339(created);
}

void ImageConfig::set_created(std::chrono::system_clock::time_point when) { created = util::rfc3339(when); }

}  // namespace kiln::image
