// Snapshot drivers: how a stack of extracted layer directories becomes one
// writable root file system. One interface, three implementations:
//   overlay         kernel overlayfs with `userxattr`, mounted inside kiln's user
//                   namespace (Linux >= 5.11); the default wherever it works.
//   fuse-overlayfs  the fuse-overlayfs program as mount program, same layout.
//   vfs             no mount at all: the lowers are copied, bottom-up, into target.
// probe_driver() picks the first that works once per store; the store remembers it.
//
// Layer directory contract (the same for all three drivers, so the store keeps one
// layout whatever the driver): a layer dir holds ONLY its own diff, in kernel
// overlay format as seen with `userxattr`:
//   - a deleted path is a character device 0/0 of the same name (a whiteout); where
//     mknod is refused, layer extraction writes an empty file with the xattr
//     user.overlay.whiteout = "y" and its parent gets user.overlay.opaque = "x"
//     (kernel overlay >= 6.7 and vfs honour that; fuse-overlayfs 1.10 does not);
//   - an opaque directory (hides everything below it in lower layers) carries the
//     xattr user.overlay.opaque = "y";
//   - no `.wh.*` files: layer extraction converts tar whiteouts into the above.
// overlay and fuse-overlayfs read this format natively; vfs applies it itself.
//
// Upper directory format (what commit/diff will find after a snapshot was used):
//   overlay:        whiteouts are char 0/0 devices (possibly hard-linked to one
//                   another: never emit them as tar hardlinks); opaque directories
//                   have user.overlay.opaque = "y" (also set on some directories
//                   created fresh in the upper); other user.overlay.* xattrs
//                   (origin, impure, uuid, ...) are overlay's bookkeeping: drop them.
//   fuse-overlayfs: whiteouts are char 0/0 devices; an opaque directory has the
//                   xattr user.fuseoverlayfs.opaque = "y" (trusted.overlay.opaque
//                   when run by real root), and also an empty regular file
//                   `.wh..wh..opq` and a char 0/0 `.wh..opq` inside it: treat all of
//                   these as one opaque marker and emit none of them as files.
//   vfs:            there is no upper: target is the whole writable tree and a diff
//                   is a comparison of target against the lowers.
//
// Every function that mounts must run where the caller may mount: inside kiln's
// user namespace (userns::enter()) or as real root in a private mount namespace.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::snapshot {

namespace fs = std::filesystem;

/// What to mount, built without syscalls. All paths absolute.
struct SnapshotPlan {
  std::vector<fs::path> lowers;  ///< layer diff dirs, TOP-MOST FIRST (overlay's lowerdir order)
  fs::path upper;                ///< writable layer (overlay/fuse); unused when read_only or vfs
  fs::path work;                 ///< overlay work dir, same file system as upper
  fs::path target;               ///< mount point (vfs: the directory that receives the copy)
  fs::path links_dir;            ///< store-wide dir of short symlinks to lowers (overlay/fuse)
  bool read_only = false;        ///< no upper: a read-only view of the lowers
  /// The upper is thrown away after one use (`run --rm`): kernel overlay skips syncing it
  /// (`volatile`), which otherwise flushes the whole upper file system at unmount.
  bool volatile_upper = false;
};

/// Checks a plan for the named driver: absolute paths, upper/work present when
/// writable and distinct from one another and from target, links_dir for
/// overlay drivers. Throws kiln::Error(invalid_input) naming the problem.
void validate_plan(const SnapshotPlan& plan, std::string_view driver);

/// A mounted snapshot; unmounts it (umount2 MNT_DETACH) on destruction unless released.
/// vfs snapshots are not mounts: destruction leaves the copy in place (the caller
/// removes target when the container goes away).
class MountedSnapshot {
public:
  MountedSnapshot() = default;
  MountedSnapshot(fs::path target, bool is_mount) : target_(std::move(target)), mounted_(is_mount) {}
  MountedSnapshot(MountedSnapshot&& other) noexcept;
  MountedSnapshot& operator=(MountedSnapshot&& other) noexcept;
  MountedSnapshot(const MountedSnapshot&) = delete;
  MountedSnapshot& operator=(const MountedSnapshot&) = delete;
  ~MountedSnapshot();

  const fs::path& target() const noexcept { return target_; }
  /// True while this object is responsible for an unmount.
  bool mounted() const noexcept { return mounted_; }
  /// Unmounts now (umount2 MNT_DETACH; fusermount3 -u -z where umount2 is not
  /// permitted, i.e. a fuse mount made outside a user namespace); throws naming target.
  void unmount();
  /// Keeps the mount beyond this object's life; returns the target.
  fs::path release() noexcept;

private:
  void reset() noexcept;  // unmount, warning instead of throwing

  fs::path target_;
  bool mounted_ = false;
};

/// One driver. Implementations are stateless; mount() may be called many times.
class Snapshotter {
public:
  virtual ~Snapshotter() = default;
  /// "overlay", "fuse-overlayfs" or "vfs", as stored and as --storage-driver takes it.
  virtual std::string name() const = 0;
  /// Whether mount() writes into plan.upper/plan.work (false for vfs).
  virtual bool uses_upper() const = 0;
  /// Mounts (or, for vfs, materialises) plan; validates it first. Creates target,
  /// upper, work and links_dir as needed. Throws with the driver, target and reason.
  virtual MountedSnapshot mount(const SnapshotPlan& plan) = 0;
};

/// The driver for a name; throws kiln::Error(invalid_input) listing the valid names.
std::unique_ptr<Snapshotter> make_snapshotter(std::string_view driver);

/// The driver names in order of preference.
const std::vector<std::string>& driver_names();

/// Tries overlay, then fuse-overlayfs, then vfs in a scratch directory (created and
/// emptied again; it should be on the store's file system) and returns the first that
/// mounts and behaves (write, whiteout). Reasons for refusals go to the debug log.
std::string probe_driver(const fs::path& scratch_dir);

}  // namespace kiln::snapshot
