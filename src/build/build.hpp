// `kiln build` as a library call: what a build is asked to do (BuildOptions,
// the flags of the command as data) and build(), which reads the context and
// the Dockerfile, plans the stages, runs each needed instruction (or takes its
// result from the step cache) and records the target stage as an image. Enters
// kiln's user namespace (userns::enter()) itself before the first step it has to
// run, so a fully cached build stays outside; single-threaded: RUN steps clone
// container processes; --jobs forks child processes, not threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dockerfile/args.hpp"
#include "runtime/container_spec.hpp"
#include "store/store.hpp"
#include "util/digest.hpp"

namespace kiln::build {

/// Where a --secret's value comes from: a file (src=) or an environment variable (env=).
struct SecretSource {
  std::string file;
  std::string env;
};

/// --pull: when to fetch the base image from a registry.
enum class PullPolicy { missing, always, never };

/// --progress: STEP lines as buildah prints them, or one status line per step
/// ("[2/5] RUN make  1.2s", "[3/5] COPY . /src  CACHED").
enum class ProgressMode { plain, tty };

/// The build's flags as data (the CLI fills it; unit tests build it directly).
struct BuildOptions {
  /// A directory, a tarball file, "-" (a tarball on stdin), or a git source
  /// ("dir.git#ref:subdir", "file://...", "git://...").
  std::string context = ".";
  /// -f: a path (relative to the working directory), "-" for stdin; default
  /// <context>/Dockerfile (or Containerfile).
  std::optional<std::string> dockerfile;
  std::vector<std::string> tags;  ///< normalised names ("localhost/app:latest")
  dockerfile::BuildArgs build_args;
  std::optional<std::string> target;
  std::optional<std::string> platform;  ///< --platform: only the host's is accepted
  bool no_cache = false;
  PullPolicy pull = PullPolicy::missing;
  bool quiet = false;           ///< -q: no progress, no RUN output
  bool docker_format = false;   ///< --format docker
  bool squash = false;          ///< one new layer on top of the base image
  bool layers = true;           ///< --layers=false: one layer for the whole build
  runtime::NetworkMode network = runtime::NetworkMode::host;
  std::map<std::string, SecretSource> secrets;  ///< --secret id=...
  std::map<std::string, std::string> labels;    ///< --label
  std::optional<std::int64_t> timestamp;        ///< --timestamp / SOURCE_DATE_EPOCH
  std::string driver;           ///< the snapshot driver (already chosen)
  ProgressMode progress = ProgressMode::plain;
  /// --jobs: how many stages without a dependency on another stage are built at the same
  /// time (by child processes, into the step cache) before the stages are taken in order.
  int jobs = 1;
  std::vector<std::string> search_registries = {"docker.io"};
  /// Pulls the image a FROM or --from names (as written) into the store; the CLI supplies
  /// it (registry options are its business). Empty: pulling is not available.
  std::function<void(const std::string& name)> pull_image;
};

/// Builds the image; progress (STEP lines, RUN output) goes to `progress`. Returns the
/// image id. Throws kiln::Error located at the Dockerfile line of the failing step
/// ("Dockerfile:7: step 3/7 RUN false: exit status 1"); the steps before it stay cached
/// and no image record is written.
util::Digest build(store::Store& store, const BuildOptions& options, std::ostream& progress);

/// `kiln builder prune`: empties the step cache and the RUN --mount=type=cache
/// directories. Returns the number of entries removed.
std::size_t prune_cache(store::Store& store);

}  // namespace kiln::build
