// RUN: snapshot, mounts, container, commit.
#include "build/run_step.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/layers.hpp"
#include "layer/diff.hpp"
#include "runtime/container.hpp"
#include "runtime/user.hpp"
#include "snapshot/program.hpp"
#include "userns/userns.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"

namespace kiln::build {
namespace {

std::string sanitize_id(std::string_view id) {
  std::string out;
  for (char c : id) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  if (out.empty() || out[0] == '.') out = "_" + out;
  return out;
}

// Everything a step's mounts need while the command runs.
struct PreparedMounts {
  std::vector<runtime::MountSpec> specs;  // the step's --mounts
  std::vector<runtime::MountSpec> volumes;  // the config's VOLUMEs
  std::vector<std::string> env;
  std::vector<util::FileLock> locks;
  std::vector<MountedStack> stacks;
};

PreparedMounts prepare_mounts(const RunEnvironment& env, const RunStep& step, const fs::path& scratch,
                              const fs::path& rootfs) {
  PreparedMounts out;
  int n = 0;
  for (const auto& m : step.mounts) {
    ++n;
    runtime::MountSpec spec;
    spec.destination = m.target;
    switch (m.type) {
      case RunMount::Type::cache: {
        fs::path dir = env.store.cache_dir() / "mounts" / sanitize_id(m.id);
        if (!fs::exists(dir)) {
          util::make_dirs(dir.parent_path(), 0700);
          util::TempDir fresh(dir.parent_path(), ".new-");
          ::chmod(fresh.path().c_str(), m.mode.value_or(0755));
          if (::chown(fresh.path().c_str(), m.uid, m.gid) < 0 && errno != EINVAL && errno != EPERM)
            throw util::sys_error("chown cache mount {}", m.id);
          if (::rename(fresh.path().c_str(), dir.c_str()) == 0) fresh.keep();
        }
        if (m.sharing == "locked")
          out.locks.emplace_back(env.store.cache_dir() / "mounts" / (sanitize_id(m.id) + ".lock"),
                                 util::FileLock::Mode::exclusive);
        spec.source = dir.string();
        spec.read_only = m.read_only.value_or(false);
        break;
      }
      case RunMount::Type::bind: {
        fs::path root = env.context.dir();
        if (!m.from.empty()) {
          out.stacks.emplace_back(env.store, env.options.driver, env.layers_of(m.from), false);
          root = out.stacks.back().root();
        }
        std::string rel = m.source;
        while (rel.starts_with("/")) rel.erase(0, 1);
        fs::path source = rel.empty() ? root : root / rel;
        if (!fs::exists(fs::symlink_status(source)))
          fail(ErrorKind::not_found, "--mount {}: source {} does not exist", m.target, m.source.empty() ? "." : m.source);
        spec.read_only = m.read_only.value_or(true);
        if (!spec.read_only) {
          // Writes to a rw bind are discarded: the command gets a copy.
          fs::path copy = scratch / fmt::format("bind-{}", n);
          auto [status, output] = snapshot::run_program("cp", {"cp", "-a", source.string(), copy.string()}, {});
          if (status != 0) fail("copy bind mount source {}: {}", m.source, output);
          source = copy;
        }
        spec.source = source.string();
        break;
      }
      case RunMount::Type::tmpfs:
        spec.type = runtime::MountSpec::Type::tmpfs;
        spec.options = m.size.empty() ? "" : "size=" + m.size;
        break;
      case RunMount::Type::secret: {
        auto it = env.options.secrets.find(m.id);
        if (it == env.options.secrets.end()) {
          if (m.required) fail(ErrorKind::not_found, "secret {} is required but was not given (--secret id={},...)", m.id, m.id);
          continue;
        }
        std::string value;
        if (!it->second.env.empty()) {
          const char* v = std::getenv(it->second.env.c_str());
          value = v ? v : "";
        } else {
          value = util::read_file(it->second.file);
        }
        if (!m.env.empty()) {
          out.env.push_back(m.env + "=" + value);
          if (m.target.empty()) continue;
        }
        fs::path file = scratch / fmt::format("secret-{}", n);
        util::write_file_atomic(file, value, m.mode.value_or(0400));
        ::chmod(file.c_str(), m.mode.value_or(0400));
        if (::chown(file.c_str(), m.uid, m.gid) < 0 && errno != EINVAL && errno != EPERM)
          throw util::sys_error("chown secret {}", m.id);
        spec.source = file.string();
        spec.read_only = true;
        break;
      }
    }
    out.specs.push_back(std::move(spec));
  }
  for (const auto& volume : step.volumes) {
    // A copy of what the image holds there (or an empty directory), dropped afterwards;
    // the mount point stays in the layer, as with Docker's classic builder and buildah.
    ++n;
    fs::path copy = scratch / fmt::format("volume-{}", n);
    std::string rel = volume;
    while (rel.starts_with("/")) rel.erase(0, 1);
    fs::path existing = rootfs / rel;
    if (!rel.empty() && fs::is_directory(fs::symlink_status(existing))) {
      auto [status, output] = snapshot::run_program("cp", {"cp", "-a", existing.string(), copy.string()}, {});
      if (status != 0) fail("copy volume {}: {}", volume, output);
    } else {
      util::make_dirs(copy, 0755);
    }
    runtime::MountSpec spec;
    spec.destination = volume;
    spec.source = copy.string();
    out.volumes.push_back(std::move(spec));
  }
  return out;
}

// Removes what exists in upper only because a --mount needed a mount point: an empty
// file or directory that the layers below do not have, and its empty new parents.
void drop_mount_points(const store::Store& store, const std::vector<util::Digest>& layers, const fs::path& upper,
                       const std::vector<runtime::MountSpec>& mounts) {
  for (const auto& m : mounts) {
    fs::path rel = fs::path(m.destination).relative_path();
    while (!rel.empty()) {
      fs::path path = upper / rel;
      struct stat st;
      if (::lstat(path.c_str(), &st) < 0) break;
      if (find_in_layers(store, layers, rel.string())) break;
      bool empty = S_ISDIR(st.st_mode) ? fs::is_empty(path) : (S_ISREG(st.st_mode) && st.st_size == 0);
      if (!empty || ::remove(path.c_str()) < 0) break;
      rel = rel.parent_path();
    }
  }
}

}  // namespace

store::LayerRecord run_step(const RunEnvironment& env, const std::vector<util::Digest>& layers, const RunStep& step) {
  MountedStack stack(env.store, env.options.driver, layers, true);
  auto mounts = prepare_mounts(env, step, stack.staging(), stack.root());

  runtime::ContainerSpec spec;
  spec.rootfs = stack.root().string();
  spec.args = step.argv;
  spec.env = step.env;
  spec.env.insert(spec.env.end(), mounts.env.begin(), mounts.env.end());
  spec.cwd = step.cwd.empty() ? "/" : step.cwd;
  spec.user = runtime::resolve_user(step.user, util::try_read_file(stack.root() / "etc/passwd").value_or(""),
                                    util::try_read_file(stack.root() / "etc/group").value_or(""));
  spec.network = step.network;
  spec.mounts = mounts.specs;
  spec.mounts.insert(spec.mounts.end(), mounts.volumes.begin(), mounts.volumes.end());
  spec.single_id = userns::current_map().single_id();

  util::UniqueFd devnull = util::open_file("/dev/null", O_RDWR);
  runtime::StartOptions start;
  start.stdio.in = devnull.borrow();
  start.stdio.out = env.output_fd >= 0 ? util::Fd(env.output_fd) : devnull.borrow();
  start.stdio.err = start.stdio.out;
  start.seccomp_cache = env.store.cache_dir() / "seccomp";
  int status = runtime::start(spec, start).wait();
  if (status != 0) fail("exit status {}", status);

  CommitOptions commit;
  commit.timestamp = env.options.timestamp;
  std::optional<util::Digest> parent;
  if (!layers.empty()) parent = layers.back();
  if (stack.uses_upper()) {
    stack.unmount();
    drop_mount_points(env.store, layers, stack.upper(), mounts.specs);
    commit.from_overlay_upper = true;
    // Kernel overlay's upper dir is already in the layer-dir format: move it into place.
    commit.move_dir = env.options.driver == "overlay";
    return commit_layer(env.store, stack.upper(), parent, commit);
  }
  // vfs (or scratch): compare with an untouched copy of the layers.
  drop_mount_points(env.store, layers, stack.root(), mounts.specs);
  fs::path lower;
  std::optional<MountedStack> base;
  if (layers.empty()) {
    lower = stack.staging() / "empty";
    util::make_dirs(lower, 0755);
  } else {
    base.emplace(env.store, env.options.driver, layers, false);
    lower = base->root();
  }
  auto changes = layer::diff_trees(lower, stack.root());
  return commit_layer(env.store, stack.root(), parent, commit, &changes);
}

}  // namespace kiln::build
