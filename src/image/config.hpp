// The image configuration (OCI image config, a superset with Docker's
// container config fields): what it holds, how it is read, and how it is
// written. The image id is the sha256 of the config bytes, so a config kiln
// did not create is never re-serialized: bytes() returns the original text
// while nothing changed, and a changed one is written as the original JSON with
// the known fields overlaid, so unknown fields (container_config, docker_version)
// survive. A config kiln creates is written deterministically in Go's order.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/digest.hpp"
#include "util/json.hpp"

namespace kiln::image {

/// Docker's HEALTHCHECK settings; durations in nanoseconds as Go's time.Duration.
struct Healthcheck {
  std::vector<std::string> test;  // ["NONE"], ["CMD", ...], ["CMD-SHELL", "..."]
  std::int64_t interval = 0;
  std::int64_t timeout = 0;
  std::int64_t start_period = 0;
  std::int64_t start_interval = 0;
  std::int64_t retries = 0;
  friend bool operator==(const Healthcheck&, const Healthcheck&) = default;
};

/// The "config" object: how a container of this image runs.
struct RunConfig {
  std::string user;
  std::set<std::string> exposed_ports;  // "80/tcp"
  std::vector<std::string> env;         // "KEY=value", in order
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::set<std::string> volumes;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::optional<Healthcheck> healthcheck;
  std::vector<std::string> on_build;
  std::vector<std::string> shell;
  bool args_escaped = false;

  /// The value of an Env entry, nullopt when unset.
  std::optional<std::string> env_value(std::string_view name) const;
  /// Sets KEY=value, replacing an existing entry in place or appending.
  void set_env(std::string_view name, std::string_view value);
  friend bool operator==(const RunConfig&, const RunConfig&) = default;
};

/// One history entry; created_by is the command (or "/bin/sh -c #(nop) CMD ...").
struct HistoryEntry {
  std::string created;  // RFC 3339 as written
  std::string created_by;
  std::string author;
  std::string comment;
  bool empty_layer = false;
  friend bool operator==(const HistoryEntry&, const HistoryEntry&) = default;
};

/// An image config. Fields are public data; parse() remembers the original text.
class ImageConfig {
public:
  std::string created;  // RFC 3339 as written; empty when absent
  std::string author;
  std::string architecture;
  std::string os;
  std::string os_version;
  std::vector<std::string> os_features;
  std::string variant;
  RunConfig config;
  std::string rootfs_type = "layers";
  std::vector<util::Digest> diff_ids;
  std::vector<HistoryEntry> history;

  /// Parses a config blob; throws invalid_input '<image config ...>: field "X" must be ...'.
  static ImageConfig parse(std::string_view text);
  /// The bytes to store: the parsed text while unchanged, else serialize().
  std::string bytes() const;
  /// Compact JSON: the original with known fields overlaid (changed ones replaced,
  /// cleared ones removed), or, for a config built here, the known fields in Go's order.
  std::string serialize() const;
  /// sha256 of bytes(): the image id.
  util::Digest digest() const;
  /// A copy that forgets the original JSON: serializes only the known fields, as a
  /// new image's config (commit, build) should.
  ImageConfig fresh() const;
  /// The known fields as JSON, in Go's field order with empty fields omitted.
  OrderedJson known_json() const;
  /// A top-level field of the original JSON that kiln does not model ("docker_version",
  /// "comment", "container"); nullptr when absent or for a config built here.
  const OrderedJson* original_field(std::string_view key) const;
  /// The created time, nullopt when absent or unparsable.
  std::optional<std::chrono::system_clock::time_point> created_time() const;
  void set_created(std::chrono::system_clock::time_point when);

private:
  std::string raw_;
  OrderedJson original_;        // parsed raw_, null for a config built here
  OrderedJson known_at_parse_;  // known_json() right after parsing
};

/// The "config" object alone, in the order containers/image writes it, empties omitted.
OrderedJson run_config_json(const RunConfig& config);
/// One history entry as JSON {created, created_by, author, comment, empty_layer}.
OrderedJson history_json(const HistoryEntry& entry);

}  // namespace kiln::image
