// Multi-stage structure of a Dockerfile: stages split at FROM (named with
// AS), the --target stage, the stages it needs (FROM <stage>, COPY --from,
// RUN --mount from=), and a dependency order to build them in. Stage names
// compare case-insensitively; a --from that names no stage is an image.
#pragma once

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dockerfile/args.hpp"
#include "dockerfile/ast.hpp"

namespace kiln::dockerfile {

/// One build stage.
struct Stage {
  std::size_t index = 0;
  std::string name;                        ///< lower-cased AS name, "" when unnamed
  std::size_t from_instruction = 0;        ///< index of its FROM in Dockerfile::instructions
  std::vector<std::size_t> instructions;   ///< indices of the instructions after FROM
  std::string base;                        ///< FROM's image, expanded with global args
  std::optional<std::size_t> base_stage;   ///< set when base names an earlier stage
  std::optional<std::string> platform;     ///< expanded --platform, if given
  std::set<std::size_t> depends_on;        ///< stages it needs: base stage, --from, mounts
};

/// What a build asks for.
struct StageOptions {
  BuildArgs build_args;
  std::optional<std::string> target;       ///< --target; default is the last stage
  Platform target_platform;
  Platform build_platform;
};

/// The resolved stages of a Dockerfile.
struct StagePlan {
  GlobalArgs globals;                      ///< predefined + global ARGs after overrides
  std::vector<Stage> stages;
  std::size_t target = 0;                  ///< index of the stage to build
  std::vector<std::size_t> order;          ///< needed stages, dependencies first, target last
  std::vector<std::string> unused_build_args;  ///< --build-args no needed stage consumes
  /// The stage named name (case-insensitive) or with that decimal index, or nullptr.
  const Stage* find(std::string_view name_or_index) const;
};

/// Splits dockerfile into stages and resolves the target and its dependencies.
/// Throws kiln::Error located at the offending line: an instruction before the first
/// FROM other than ARG ("no build stage in current context"), a blank base name, a
/// duplicate stage name, a numeric --from pointing at the current or a later stage,
/// a dependency cycle; and (unlocated) an unknown --target.
StagePlan plan_stages(const Dockerfile& dockerfile, const StageOptions& options);

/// The from= value of a RUN --mount spec ("type=cache,from=builder,target=/x"), if any.
std::optional<std::string> mount_from(std::string_view mount_spec);

}  // namespace kiln::dockerfile
