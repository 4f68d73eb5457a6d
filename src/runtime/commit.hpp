// `kiln commit`: a container's changes become a new image on top of its own.
// The changes (diff.hpp) are written as one gzip layer, stored as a layer over
// the image's top layer, and recorded with a config derived from the image's:
// the container's command, entrypoint, environment, user, working directory and
// labels (as Docker and podman carry them over), then the --change lines, and a
// history entry with the author and message. A running container is committed
// as it is at that moment (not paused). Runs inside kiln's user namespace.
#pragma once

#include <string>
#include <vector>

#include "archive/image_writer.hpp"
#include "store/store.hpp"

namespace kiln::runtime {

struct CommitOptions {
  std::vector<std::string> names;    ///< full, normalised references; empty: a dangling image
  std::vector<std::string> changes;  ///< --change lines (CMD, ENV, ...)
  std::string message;               ///< history comment
  std::string author;                ///< config author and history author
  bool docker_format = false;
};

/// Commits the container's rw layer as a new image; returns what was stored. Throws
/// invalid_input for a bad --change line, else naming the step that failed.
archive::WrittenImage commit_container(store::Store& store, const store::ContainerRecord& record,
                                       const CommitOptions& options);

}  // namespace kiln::runtime
