// Executing one RUN instruction: a writable snapshot of the previous step's
// layers, the --mount binds (cache, bind, tmpfs, secret), the command under
// the same isolation as `kiln run`, and the snapshot's changes committed as a
// new layer. Secrets and mount points created only for mounts stay out of it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "build/build.hpp"
#include "build/context.hpp"
#include "build/run_mounts.hpp"
#include "runtime/container_spec.hpp"
#include "store/store.hpp"

namespace kiln::build {

/// What a RUN step executes, already resolved from the instruction and the config.
struct RunStep {
  std::vector<std::string> argv;
  std::vector<std::string> env;  ///< "K=V"
  std::string user;              ///< USER spec, resolved in the snapshot's /etc/passwd
  std::string cwd = "/";
  std::vector<RunMount> mounts;
  /// The config's VOLUMEs: each gets a throwaway copy of its contents, so what the
  /// command writes there is discarded (Docker's classic builder; buildah).
  std::vector<std::string> volumes;
  runtime::NetworkMode network = runtime::NetworkMode::host;
};

/// The build-wide things a RUN step needs.
struct RunEnvironment {
  store::Store& store;
  const BuildOptions& options;
  const BuildContext& context;
  /// The layers of a stage or image named by a mount's from=.
  std::function<std::vector<util::Digest>(const std::string&)> layers_of;
  int output_fd = 2;  ///< where the command's stdout and stderr go; -1: discarded
};

/// Runs step on top of layers (chain ids, base first) and commits the result as a layer
/// over the top one. Throws kiln::Error "exit status N" when the command fails.
store::LayerRecord run_step(const RunEnvironment& env, const std::vector<util::Digest>& layers, const RunStep& step);

}  // namespace kiln::build
