// layer: applying and creating layer tarballs, whiteouts, tree diffs, and
// hostile tarballs that must never write outside the target directory. Tarballs
// are built here with libarchive's writer directly, independently of create.cpp.
#include <doctest/doctest.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "layer/apply.hpp"
#include "layer/create.hpp"
#include "layer/diff.hpp"
#include "layer/safe_path.hpp"
#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace kiln;
namespace fs = std::filesystem;

namespace {

struct Entry {
  std::string path;
  mode_t type = AE_IFREG;
  std::string data;      // file content, or link target for symlinks and hardlinks
  mode_t perm = 0644;
  std::int64_t mtime = 1'600'000'000;
  unsigned uid = 0, gid = 0;
  dev_t rdev = 0;
  bool hardlink = false;
  std::map<std::string, std::string> xattrs;
};

la_ssize_t append(struct archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// filter: "none", "gzip" or "zstd".
std::string make_tar(const std::vector<Entry>& entries, const std::string& filter = "none") {
  std::string out;
  auto* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  if (filter == "zstd") archive_write_add_filter_zstd(a);
  archive_write_open(a, &out, nullptr, append, nullptr);
  auto* e = archive_entry_new();
  for (const auto& x : entries) {
    archive_entry_clear(e);
    archive_entry_set_pathname(e, x.path.c_str());
    archive_entry_set_uid(e, x.uid);
    archive_entry_set_gid(e, x.gid);
    archive_entry_set_mtime(e, x.mtime, 0);
    if (x.hardlink) {
      archive_entry_set_hardlink(e, x.data.c_str());
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, x.perm);
      archive_entry_set_size(e, 0);
    } else {
      archive_entry_set_filetype(e, x.type);
      archive_entry_set_perm(e, x.type == AE_IFDIR && x.perm == 0644 ? 0755 : x.perm);
      if (x.type == AE_IFLNK) archive_entry_set_symlink(e, x.data.c_str());
      if (x.type == AE_IFREG) archive_entry_set_size(e, static_cast<la_int64_t>(x.data.size()));
      if (x.type == AE_IFCHR || x.type == AE_IFBLK) archive_entry_set_rdev(e, x.rdev);
    }
    for (const auto& [k, v] : x.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
    if (x.type == AE_IFREG && !x.hardlink) archive_write_data(a, x.data.data(), x.data.size());
  }
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// Compresses bytes as one raw stream, so the decompressed form is exactly `plain`.
std::string compress_raw(const std::string& plain, const std::string& filter) {
  std::string out;
  auto* a = archive_write_new();
  archive_write_set_format_raw(a);
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  if (filter == "zstd") archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(a, &out, nullptr, append, nullptr);
  auto* e = archive_entry_new();
  archive_entry_set_pathname(e, "data");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_write_header(a, e);
  archive_write_data(a, plain.data(), plain.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// Decompresses a whole blob with libarchive's raw reader.
std::string decompress(const std::string& blob) {
  auto* a = archive_read_new();
  // The filters kiln writes (not _all: kiln links libarchive without lz4 and lzop).
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_raw(a);
  archive_read_open_memory(a, blob.data(), blob.size());
  struct archive_entry* e;
  std::string out;
  if (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    char buf[8192];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  archive_read_free(a);
  return out;
}

struct Sandbox {
  util::TempDir tmp{fs::temp_directory_path(), "kiln-layer-test-"};
  fs::path target = tmp.path() / "target";
  fs::path outside = tmp.path() / "outside";
  Sandbox() {
    fs::create_directory(target);
    fs::create_directory(outside);
    util::write_file_atomic(tmp.path() / "sentinel", "precious");
    util::write_file_atomic(outside / "keep", "keep");
  }
  fs::path write_blob(const std::string& blob, const std::string& name = "layer.tar") {
    auto path = tmp.path() / ".." / (tmp.path().filename().string() + "-" + name);
    util::write_file_atomic(path, blob);
    blobs.push_back(path);
    return path;
  }
  ~Sandbox() {
    for (const auto& b : blobs) fs::remove(b);
  }
  layer::ApplyResult apply(const std::string& blob, const layer::ApplyOptions& options = {}) {
    auto fd = util::open_read(write_blob(blob));
    return layer::apply_layer(fd, target, options);
  }
  // Nothing outside target changed: the same three names, same contents.
  void check_untouched() {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(tmp.path())) names.insert(e.path().filename().string());
    CHECK(names == std::set<std::string>{"outside", "sentinel", "target"});
    CHECK(util::read_file(tmp.path() / "sentinel") == "precious");
    std::set<std::string> out_names;
    for (const auto& e : fs::directory_iterator(outside)) out_names.insert(e.path().filename().string());
    CHECK(out_names == std::set<std::string>{"keep"});
    CHECK(util::read_file(outside / "keep") == "keep");
    CHECK(fs::is_directory(fs::symlink_status(target)));
  }
  std::vector<fs::path> blobs;
};

struct stat lstat_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st;
}

std::string xattr_of(const fs::path& p, const char* name) {
  char buf[256];
  ssize_t n = ::lgetxattr(p.c_str(), name, buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

// True where chown to ids other than our own works (root, or a userns with a range).
bool can_chown() {
  static int cached = -1;
  if (cached < 0) {
    util::TempDir dir(fs::temp_directory_path(), "kiln-chown-");
    util::write_file_atomic(dir.path() / "f", "");
    cached = ::chown((dir.path() / "f").c_str(), 1234, 5678) == 0;
  }
  return cached == 1;
}

// Layers carry whole-second mtimes: drop the nanoseconds of a tree made on disk so
// a round trip can be compared exactly.
void truncate_mtimes(const fs::path& root) {
  std::vector<fs::path> paths{root};
  for (const auto& e : fs::recursive_directory_iterator(root)) paths.push_back(e.path());
  std::reverse(paths.begin(), paths.end());  // children first: their parents' mtimes stay put
  for (const auto& p : paths) {
    struct timespec times[2] = {{0, UTIME_OMIT}, {lstat_of(p).st_mtime, 0}};
    REQUIRE(::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
  }
}

std::vector<Entry> sample_entries() {
  return {
      {.path = "etc/", .type = AE_IFDIR, .perm = 0755, .mtime = 1'500'000'000},
      {.path = "etc/passwd", .data = "root:x:0:0::/root:/bin/sh\n", .mtime = 1'500'000'001},
      {.path = "bin/", .type = AE_IFDIR, .perm = 0555, .mtime = 1'500'000'002},
      {.path = "bin/tool", .data = "#!/bin/sh\n", .perm = 04755, .mtime = 1'500'000'003},
      {.path = "bin/link", .type = AE_IFLNK, .data = "tool"},
      {.path = "bin/hard", .data = "bin/tool", .hardlink = true},
      {.path = "data/owned", .data = "x", .uid = 1234, .gid = 5678, .xattrs = {{"user.note", "hi"}}},
  };
}

void check_sample(const fs::path& root) {
  CHECK(util::read_file(root / "etc/passwd") == "root:x:0:0::/root:/bin/sh\n");
  CHECK(lstat_of(root / "etc").st_mtime == 1'500'000'000);
  CHECK(lstat_of(root / "etc/passwd").st_mtime == 1'500'000'001);
  CHECK((lstat_of(root / "bin").st_mode & 07777) == 0555);
  CHECK(lstat_of(root / "bin").st_mtime == 1'500'000'002);
  CHECK((lstat_of(root / "bin/tool").st_mode & 07777) == 04755);
  CHECK(fs::read_symlink(root / "bin/link") == "tool");
  CHECK(lstat_of(root / "bin/hard").st_ino == lstat_of(root / "bin/tool").st_ino);
  CHECK(xattr_of(root / "data/owned", "user.note") == "hi");
  if (can_chown()) {
    CHECK(lstat_of(root / "data/owned").st_uid == 1234);
    CHECK(lstat_of(root / "data/owned").st_gid == 5678);
  }
}

}  // namespace

TEST_CASE("clean_entry_path") {
  CHECK(layer::clean_entry_path("a/b/c") == "a/b/c");
  CHECK(layer::clean_entry_path("./a//b/./c/") == "a/b/c");
  CHECK(layer::clean_entry_path("/abs/x") == "abs/x");
  CHECK(layer::clean_entry_path("a/../b") == "b");
  CHECK(layer::clean_entry_path("./") == "");
  CHECK_FALSE(layer::clean_entry_path("../x").has_value());
  CHECK_FALSE(layer::clean_entry_path("a/../../x").has_value());
  CHECK_FALSE(layer::clean_entry_path("/..").has_value());
}

TEST_CASE("apply plain, gzip and zstd layers with correct digests") {
  std::string plain = make_tar(sample_entries());
  for (std::string filter : {"none", "gzip", "zstd"}) {
    CAPTURE(filter);
    Sandbox box;
    std::string blob = filter == "none" ? plain : compress_raw(plain, filter);
    if (filter != "none") REQUIRE(blob != plain);
    auto result = box.apply(blob);
    CHECK(result.diff_id == util::sha256_of(plain));
    CHECK(result.blob_digest == util::sha256_of(blob));
    CHECK(result.uncompressed_size == plain.size());
    CHECK(result.compressed_size == blob.size());
    CHECK(result.entries == sample_entries().size());
    check_sample(box.target);
  }
}

TEST_CASE("apply a tar compressed by libarchive's own gzip filter") {
  Sandbox box;
  std::string blob = make_tar(sample_entries(), "gzip");
  auto result = box.apply(blob);
  CHECK(result.blob_digest == util::sha256_of(blob));
  CHECK(result.diff_id == util::sha256_of(decompress(blob)));
  check_sample(box.target);
}

TEST_CASE("garbage is rejected as invalid input") {
  Sandbox box;
  CHECK_THROWS_AS(box.apply(std::string(2000, 'x')), Error);
}

TEST_CASE("single_id keeps the caller's ownership") {
  Sandbox box;
  box.apply(make_tar(sample_entries()), {.single_id = true});
  CHECK(lstat_of(box.target / "data/owned").st_uid == ::geteuid());
}

TEST_CASE("whiteouts in remove mode") {
  Sandbox box;
  fs::create_directories(box.target / "dir");
  fs::create_directories(box.target / "opq/sub");
  util::write_file_atomic(box.target / "a", "a");
  util::write_file_atomic(box.target / "dir/b", "b");
  util::write_file_atomic(box.target / "opq/c", "c");
  util::write_file_atomic(box.target / "opq/sub/d", "d");
  box.apply(make_tar({
      {.path = ".wh.a"},
      {.path = "opq/", .type = AE_IFDIR},
      {.path = "opq/new", .data = "new"},
      {.path = "opq/.wh..wh..opq"},
      {.path = "missing/.wh.x"},
  }));
  CHECK_FALSE(fs::exists(fs::symlink_status(box.target / "a")));
  CHECK_FALSE(fs::exists(box.target / ".wh.a"));
  CHECK(util::read_file(box.target / "dir/b") == "b");
  CHECK(util::read_file(box.target / "opq/new") == "new");
  CHECK_FALSE(fs::exists(box.target / "opq/c"));
  CHECK_FALSE(fs::exists(box.target / "opq/sub"));
  CHECK_FALSE(fs::exists(box.target / "opq/.wh..wh..opq"));
}

TEST_CASE("whiteouts in overlay mode become overlayfs markers") {
  Sandbox box;
  box.apply(make_tar({
                {.path = ".wh.gone"},
                {.path = "opq/", .type = AE_IFDIR},
                {.path = "opq/.wh..wh..opq"},
                {.path = "opq/kept", .data = "k"},
            }),
            {.whiteout_mode = layer::WhiteoutMode::overlay});
  auto st = lstat_of(box.target / "gone");
  if (S_ISCHR(st.st_mode)) {
    CHECK(st.st_rdev == ::makedev(0, 0));
  } else {
    // mknod refused: the xattr form.
    CHECK(xattr_of(box.target / "gone", "user.overlay.whiteout") == "y");
    CHECK(xattr_of(box.target, "user.overlay.opaque") == "x");
  }
  CHECK(xattr_of(box.target / "opq", "user.overlay.opaque") == "y");
  CHECK(util::read_file(box.target / "opq/kept") == "k");
}

TEST_CASE("overlay xattrs and trusted xattrs in a tarball are dropped") {
  Sandbox box;
  box.apply(make_tar({{.path = "d/", .type = AE_IFDIR,
                       .xattrs = {{"user.overlay.redirect", "/x"}, {"user.overlay.opaque", "y"}, {"user.ok", "1"}}}}));
  CHECK(xattr_of(box.target / "d", "user.overlay.redirect").empty());
  CHECK(xattr_of(box.target / "d", "user.overlay.opaque").empty());
  CHECK(xattr_of(box.target / "d", "user.ok") == "1");
}

TEST_CASE("an entry replaces an existing symlink instead of writing through it") {
  Sandbox box;
  fs::create_symlink(box.tmp.path() / "sentinel", box.target / "f");
  fs::create_symlink(box.outside, box.target / "d");
  box.apply(make_tar({{.path = "f", .data = "mine"}, {.path = "d/", .type = AE_IFDIR}}));
  CHECK(util::read_file(box.target / "f") == "mine");
  CHECK(fs::is_directory(fs::symlink_status(box.target / "d")));
  box.check_untouched();
}

TEST_CASE("a later file over a directory replaces it; directory over directory keeps contents") {
  Sandbox box;
  fs::create_directories(box.target / "x/y");
  fs::create_directories(box.target / "keep");
  util::write_file_atomic(box.target / "keep/old", "o");
  box.apply(make_tar({{.path = "x", .data = "file now"}, {.path = "keep/", .type = AE_IFDIR, .perm = 0700}}));
  CHECK(util::read_file(box.target / "x") == "file now");
  CHECK(util::read_file(box.target / "keep/old") == "o");
  CHECK((lstat_of(box.target / "keep").st_mode & 0777) == 0700);
}

TEST_SUITE("hostile tarballs") {
  TEST_CASE("dot-dot entries are rejected, naming the entry") {
    Sandbox box;
    try {
      box.apply(make_tar({{.path = "a/../../x", .data = "evil"}}));
      FAIL("no error");
    } catch (const std::exception& e) {
      CHECK(util::describe(e) == "layer entry \"a/../../x\": path escapes the layer");
      CHECK(util::kind_of(e) == ErrorKind::invalid_input);
    }
    CHECK_THROWS(box.apply(make_tar({{.path = "../sentinel", .data = "evil"}})));
    CHECK_THROWS(box.apply(make_tar({{.path = "../.wh.sentinel"}})));
    box.check_untouched();
  }

  TEST_CASE("absolute paths land inside the target") {
    Sandbox box;
    std::string abs = (box.tmp.path() / "sentinel").string();
    box.apply(make_tar({{.path = abs, .data = "evil"}, {.path = "/etc/x", .data = "y"}}));
    CHECK(util::read_file(box.target / abs.substr(1)) == "evil");
    CHECK(util::read_file(box.target / "etc/x") == "y");
    box.check_untouched();
  }

  TEST_CASE("symlink then write through it stays inside") {
    Sandbox box;
    // Relative climb: resolves to the target's root, as in a chroot.
    box.apply(make_tar({{.path = "a", .type = AE_IFLNK, .data = "../../.."}, {.path = "a/evil", .data = "x"}}));
    CHECK(util::read_file(box.target / "evil") == "x");
    box.check_untouched();
  }

  TEST_CASE("symlink to an absolute outside directory then write through it") {
    Sandbox box;
    CHECK_THROWS(box.apply(make_tar({{.path = "a", .type = AE_IFLNK, .data = box.outside.string()},
                                     {.path = "a/evil", .data = "x"}})));
    box.check_untouched();
    // The same with the link planted in the target beforehand (a lower layer).
    Sandbox box2;
    fs::create_symlink(box2.outside, box2.target / "b");
    CHECK_THROWS(box2.apply(make_tar({{.path = "b/evil", .data = "x"}})));
    CHECK_THROWS(box2.apply(make_tar({{.path = "b/keep", .data = "x"}})));
    box2.apply(make_tar({{.path = "b/.wh.keep"}}));  // nothing below to hide: a no-op
    box2.check_untouched();
  }

  TEST_CASE("hardlinks through a symlink or out of the layer are rejected") {
    Sandbox box;
    CHECK_THROWS(box.apply(make_tar({{.path = "a", .type = AE_IFLNK, .data = box.tmp.path().string()},
                                     {.path = "link", .data = "a/sentinel", .hardlink = true}})));
    CHECK_THROWS(box.apply(make_tar({{.path = "link", .data = "../sentinel", .hardlink = true}})));
    CHECK_THROWS(box.apply(make_tar({{.path = "link", .data = "../../etc/passwd", .hardlink = true}})));
    CHECK_THROWS(box.apply(make_tar({{.path = "link", .data = "nowhere", .hardlink = true}})));
    box.check_untouched();
    // A hardlink to a symlink pointing outside links the symlink itself.
    Sandbox box2;
    box2.apply(make_tar({{.path = "s", .type = AE_IFLNK, .data = (box2.tmp.path() / "sentinel").string()},
                         {.path = "h", .data = "s", .hardlink = true}}));
    CHECK(fs::is_symlink(box2.target / "h"));
    box2.check_untouched();
  }

  TEST_CASE("device nodes are created only beneath the target or skipped") {
    Sandbox box;
    auto result = box.apply(make_tar({{.path = "dev/null", .type = AE_IFCHR, .perm = 0666, .rdev = ::makedev(1, 3)},
                                      {.path = "fifo", .type = AE_IFIFO}}));
    if (result.devices_skipped == 0) {
      CHECK(S_ISCHR(lstat_of(box.target / "dev/null").st_mode));
      CHECK(S_ISFIFO(lstat_of(box.target / "fifo").st_mode));
    }
    box.check_untouched();
  }
}

TEST_CASE("create then apply gives the same tree") {
  Sandbox src;
  src.apply(make_tar(sample_entries()));
  truncate_mtimes(src.target);
  std::string blob;
  for (auto compression : {layer::Compression::gzip, layer::Compression::zstd, layer::Compression::none}) {
    Sandbox dst;
    auto out_path = dst.write_blob("", "created.tar");
    {
      auto out = util::open_file(out_path, O_WRONLY | O_TRUNC);
      auto created = layer::create_layer(src.target, out, {.compression = compression});
      blob = util::read_file(out_path);
      CHECK(created.blob_digest == util::sha256_of(blob));
      CHECK(created.compressed_size == blob.size());
      CHECK(created.diff_id == util::sha256_of(compression == layer::Compression::none ? blob : decompress(blob)));
      auto applied = dst.apply(blob);
      CHECK(applied.diff_id == created.diff_id);
      CHECK(applied.blob_digest == created.blob_digest);
    }
    check_sample(dst.target);
    CHECK(layer::diff_trees(src.target, dst.target).empty());
  }
}

TEST_CASE("create is deterministic and clamps mtimes") {
  Sandbox src;
  src.apply(make_tar(sample_entries()));
  auto create = [&](const layer::CreateOptions& options) {
    auto path = src.write_blob("", "c.tar");
    auto out = util::open_file(path, O_WRONLY | O_TRUNC);
    layer::create_layer(src.target, out, options);
    return util::read_file(path);
  };
  for (auto compression : {layer::Compression::gzip, layer::Compression::zstd}) {
    std::string first = create({.compression = compression});
    ::sleep(1);  // a timestamp in a header would now differ
    CHECK(create({.compression = compression}) == first);
  }
  Sandbox dst;
  dst.apply(create({.source_date_epoch = 1'000'000'000}));
  CHECK(lstat_of(dst.target / "etc/passwd").st_mtime == 1'000'000'000);
  CHECK(lstat_of(dst.target / "bin").st_mtime == 1'000'000'000);
}

TEST_CASE("create from an overlay upper dir writes whiteouts and opaque markers") {
  Sandbox upper;
  if (::mknod((upper.target / "gone").c_str(), S_IFCHR, ::makedev(0, 0)) < 0) {
    MESSAGE("mknod 0/0 not permitted here; skipped");
    return;
  }
  fs::create_directories(upper.target / "opq");
  util::write_file_atomic(upper.target / "opq/new", "n");
  REQUIRE(::setxattr((upper.target / "opq").c_str(), "user.overlay.opaque", "y", 1, 0) == 0);
  auto path = upper.write_blob("", "u.tar");
  {
    auto out = util::open_file(path, O_WRONLY | O_TRUNC);
    layer::create_layer(upper.target, out, {.compression = layer::Compression::none, .from_overlay_upper = true});
  }
  // List the names libarchive reads back.
  std::string tar = util::read_file(path);
  auto* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_open_memory(a, tar.data(), tar.size());
  std::vector<std::string> names;
  struct archive_entry* e;
  bool overlay_xattr = false;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    names.emplace_back(archive_entry_pathname(e));
    const char* n;
    const void* v;
    size_t s;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &n, &v, &s) == ARCHIVE_OK) overlay_xattr |= std::string(n).find("overlay") != std::string::npos;
  }
  archive_read_free(a);
  CHECK(names == std::vector<std::string>{".wh.gone", "opq/", "opq/.wh..wh..opq", "opq/new"});
  CHECK_FALSE(overlay_xattr);
  // Applied onto a lower tree in remove mode it deletes and hides.
  Sandbox lower;
  fs::create_directories(lower.target / "opq");
  util::write_file_atomic(lower.target / "gone", "g");
  util::write_file_atomic(lower.target / "opq/old", "o");
  lower.apply(tar);
  CHECK_FALSE(fs::exists(lower.target / "gone"));
  CHECK_FALSE(fs::exists(lower.target / "opq/old"));
  CHECK(util::read_file(lower.target / "opq/new") == "n");
}

TEST_CASE("tar_order_less sorts parents before children") {
  std::vector<std::string> v{"a.c", "a/b", "a", "b", "a/b/c"};
  std::sort(v.begin(), v.end(), layer::tar_order_less);
  CHECK(v == std::vector<std::string>{"a", "a/b", "a/b/c", "a.c", "b"});
}

TEST_CASE("diff_trees and create_layer_from_changes reproduce the new tree") {
  Sandbox lower;
  lower.apply(make_tar(sample_entries()));
  util::write_file_atomic(lower.target / "etc/old", "o");
  fs::create_directories(lower.target / "gone/deep");
  util::write_file_atomic(lower.target / "gone/deep/f", "f");
  truncate_mtimes(lower.target);
  auto copy = [](const fs::path& from, const fs::path& to) {
    fs::remove(to);
    REQUIRE(std::system(("cp -a '" + from.string() + "' '" + to.string() + "'").c_str()) == 0);
  };
  Sandbox upper;
  copy(lower.target, upper.target);
  CHECK(layer::diff_trees(lower.target, upper.target).empty());
  util::write_file_atomic(upper.target / "etc/passwd", "changed\n");
  util::write_file_atomic(upper.target / "etc/added", "a");
  fs::create_directories(upper.target / "newdir/sub");
  util::write_file_atomic(upper.target / "newdir/sub/f", "f");
  fs::remove(upper.target / "etc/old");
  fs::remove_all(upper.target / "gone");
  truncate_mtimes(upper.target);
  // Keep etc's mtime so only the files themselves show as changed.
  struct timespec times[2] = {{0, UTIME_OMIT}, lstat_of(lower.target / "etc").st_mtim};
  ::utimensat(AT_FDCWD, (upper.target / "etc").c_str(), times, 0);

  auto changes = layer::diff_trees(lower.target, upper.target);
  using K = layer::ChangeKind;
  std::vector<layer::Change> expected{
      {"etc/added", K::added},   {"etc/old", K::deleted},   {"etc/passwd", K::modified}, {"gone", K::deleted},
      {"newdir", K::added},      {"newdir/sub", K::added},  {"newdir/sub/f", K::added},
  };
  // The root directory's mtime changed too (gone, newdir): no entry for it.
  CHECK(changes == expected);

  Sandbox result;
  copy(lower.target, result.target);
  auto path = result.write_blob("", "changes.tar");
  {
    auto out = util::open_file(path, O_WRONLY | O_TRUNC);
    layer::create_layer_from_changes(upper.target, changes, out);
  }
  result.apply(util::read_file(path));
  auto after = layer::diff_trees(upper.target, result.target);
  // Only the root's own mtime may differ (it is not in a layer).
  CHECK(after.empty());
}

TEST_CASE("create reports a failing output instead of crashing") {
  Sandbox src;
  src.apply(make_tar(sample_entries()));
  auto path = src.write_blob("", "ro.tar");
  auto read_only = util::open_read(path);
  CHECK_THROWS(layer::create_layer(src.target, read_only));
}

TEST_CASE("diff_trees sees a changed symlink target and a type change") {
  Sandbox a, b;
  fs::create_symlink("one", a.target / "l");
  fs::create_symlink("two", b.target / "l");
  util::write_file_atomic(a.target / "t", "file");
  fs::create_directories(b.target / "t/x");
  truncate_mtimes(a.target);
  truncate_mtimes(b.target);
  struct timespec times[2] = {{0, UTIME_OMIT}, {1'600'000'000, 0}};
  for (auto* box : {&a, &b}) ::utimensat(AT_FDCWD, (box->target / "l").c_str(), times, AT_SYMLINK_NOFOLLOW);
  using K = layer::ChangeKind;
  CHECK(layer::diff_trees(a.target, b.target) ==
        std::vector<layer::Change>{{"l", K::modified}, {"t", K::modified}, {"t/x", K::added}});
}

TEST_CASE("CompressedWriter without compression: the bytes as given, one digest for both") {
  Sandbox dir;
  auto path = dir.write_blob("", "plain.tar");
  std::string expected;
  {
    auto out = util::open_file(path, O_WRONLY | O_TRUNC);
    layer::CompressedWriter writer(out, layer::Compression::none);
    // Small pieces (gathered into big writes), one bigger than the gathering buffer, and a tail.
    for (std::size_t size : {std::size_t{10240}, std::size_t{1}, std::size_t{3} << 20, std::size_t{10240}, std::size_t{7}}) {
      std::string piece(size, static_cast<char>('a' + expected.size() % 26));
      writer.write(piece.data(), piece.size());
      expected += piece;
    }
    writer.finish();
    CHECK(writer.diff_id() == util::sha256_of(expected));
    CHECK(writer.blob_digest() == util::sha256_of(expected));
    CHECK(writer.uncompressed_size() == expected.size());
    CHECK(writer.compressed_size() == expected.size());
  }
  CHECK(util::read_file(path) == expected);
}
