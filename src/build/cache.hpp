// The build step cache: a key per step (the previous step's key, the
// instruction after expansion, the build args it sees, a digest of what it
// reads) mapped to the step's result (the layer it added, if any, and the image
// config after it). Entries live in <store>/cache/steps/<key hex>, each written
// atomically; an entry whose layer the store no longer has is a miss.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"
#include "util/digest.hpp"

namespace kiln::build {

/// What a cached step produced.
struct CacheEntry {
  std::optional<util::Digest> layer;  ///< chain id of the layer the step added
  std::string config;                 ///< the image config bytes after the step
};

/// Combines the parts of a step's identity into a key (hex sha256). Pure.
std::string step_key(std::string_view parent_key, const std::vector<std::string>& parts);

class StepCache {
public:
  explicit StepCache(const store::Store& store) : store_(store) {}
  /// The entry for key when present and its layer is still in the store.
  std::optional<CacheEntry> find(const std::string& key) const;
  /// Records an entry (atomically; a failure to write is only logged).
  void put(const std::string& key, const CacheEntry& entry) const;

private:
  const store::Store& store_;
};

}  // namespace kiln::build
