// `kiln export`: a container's whole file system (image layers plus its rw
// layer, merged) as one uncompressed tar. Overlay drivers mount a read-only view
// of the rw layer over the image's layers in this process's mount namespace (the
// container's own mount lives only in its monitor's namespace); vfs tars the
// container's tree. Runs inside kiln's user namespace.
#pragma once

#include "store/store.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

/// Writes the container's merged file system as a tar to out (written sequentially: a
/// pipe is fine). Throws naming the container.
void export_container(store::Store& store, const store::ContainerRecord& record, util::Fd out);

}  // namespace kiln::runtime
