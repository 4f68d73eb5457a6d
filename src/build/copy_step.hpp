// COPY and ADD: resolving sources (context, another stage's or image's root,
// heredocs, URLs), Docker's destination rules (trailing slash, directory
// contents, existing directories), --chown/--chmod, ADD's archive extraction
// and URL download with --checksum. The new files are assembled in a fresh
// tree that becomes the step's layer: no mount, no container.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "build/context.hpp"
#include "dockerfile/ast.hpp"
#include "store/store.hpp"

namespace kiln::build {

/// One COPY/ADD after expansion.
struct CopyRequest {
  bool add = false;                       ///< ADD: archives extracted, URLs fetched
  std::vector<std::string> sources;       ///< as written (after expansion)
  std::string dest;                       ///< absolute (relative ones already joined to WORKDIR)
  bool dest_is_dir_hint = false;          ///< dest written with a trailing '/'
  std::optional<std::string> chown;
  std::optional<std::string> chmod;
  std::optional<std::string> checksum;    ///< ADD --checksum=sha256:...
  std::vector<dockerfile::Heredoc> heredocs;
  /// --from: the root to read from (a mounted stage or image); empty: the context.
  std::filesystem::path from_root;
};

/// The context-relative sources of a request (for the cache key); empty for --from,
/// heredocs and URLs. Throws like BuildContext::resolve.
std::vector<std::string> context_sources(const BuildContext& context, const CopyRequest& request);

/// "file", "dir" or "multi" with a digest hex for the history line, from what the request
/// reads; content_key is the digest the cache key used.
struct CopySummary {
  std::string kind;
  std::string hex;
};

/// Builds the tree of new files for request on top of layers, commits it as a layer and
/// returns it. Throws kiln::Error naming the source for a missing file or a bad flag.
store::LayerRecord copy_step(store::Store& store, const BuildContext& context, const std::vector<util::Digest>& layers,
                             const CopyRequest& request, const std::optional<std::int64_t>& timestamp);

/// WORKDIR's side effect: a layer holding the directory dir (absolute) and the missing
/// directories above it, when the image lacks it; nullopt when it exists already. The new
/// directories belong to user (a USER spec; empty: root).
std::optional<store::LayerRecord> workdir_step(store::Store& store, const std::vector<util::Digest>& layers,
                                               const std::string& dir, const std::string& user,
                                               const std::optional<std::int64_t>& timestamp);

}  // namespace kiln::build
