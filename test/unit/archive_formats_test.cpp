// archive formats: manifest.json and index.json parsing and writing, member-name
// safety in ArchiveReader (names never become paths; links stay inside), and
// save/load round trips between two temporary stores in all three formats, with
// the failures load must report (diff id mismatch, missing member, bad JSON,
// truncation) leaving no image behind. No user namespace: extraction skips chown.
#include <doctest/doctest.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>

#include "archive/archive_output.hpp"
#include "archive/archive_reader.hpp"
#include "archive/docker_archive.hpp"
#include "archive/image_writer.hpp"
#include "archive/import.hpp"
#include "archive/load.hpp"
#include "archive/oci_layout.hpp"
#include "archive/save.hpp"
#include "image/config.hpp"
#include "image/manifest.hpp"
#include "layer/create.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "tree_layer.hpp"

using namespace kiln;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  util::TempDir dir{fs::temp_directory_path(), "kiln-archive-formats-test-"};
  store::Store store = store::Store::open(dir.path() / "store");
  store::Store other = store::Store::open(dir.path() / "other");

  fs::path make_layer(const std::string& name, const std::map<std::string, std::string>& files,
                      layer::Compression compression = layer::Compression::gzip) {
    return test::make_tree_layer(dir.path(), name, files, compression, ".layer", false);
  }

  // A two-layer image with history, named `name`, in `store`.
  store::ImageRecord make_image(const std::string& name) {
    archive::ImportLayerOptions solo;
    solo.single_id = true;
    auto base = archive::import_layer(store, make_layer("base", {{"etc/hello", "hi\n"}}), std::nullopt, solo);
    auto top = archive::import_layer(store, make_layer("top", {{"srv/data", "data\n"}}), base.chain_id, solo);
    image::ImageConfig config;
    config.architecture = "amd64";
    config.os = "linux";
    config.created = "2024-01-02T03:04:05Z";
    config.config.cmd = {"sh"};
    config.diff_ids = {base.diff_id, top.diff_id};
    config.history = {{"2024-01-02T03:04:05Z", "/bin/sh -c #(nop) ADD file:x in / ", "", "", false},
                      {"2024-01-02T03:04:06Z", "/bin/sh -c echo data > /srv/data", "", "", false},
                      {"2024-01-02T03:04:07Z", "/bin/sh -c #(nop) CMD [\"sh\"]", "", "", true}};
    archive::WriteImageOptions options;
    options.names = {name};
    return archive::write_image(store, {base, top}, config.bytes(), options).record;
  }

  // A tar file of the given members.
  fs::path make_tar(const std::string& name, const std::vector<std::pair<std::string, std::string>>& members) {
    fs::path out = dir.path() / name;
    auto fd = util::open_file(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    auto tar = archive::tar_output(fd);
    for (const auto& [member, data] : members) tar->add(member, data);
    tar->finish();
    return out;
  }

  std::vector<archive::LoadedImage> load(const fs::path& path) {
    archive::LoadOptions options;
    options.single_id = true;
    return archive::load_from_path(other, path, options);
  }
};

std::string file_content(const fs::path& path) { return util::read_file(path); }

}  // namespace

TEST_CASE("clean_member_name keeps names inside the archive") {
  CHECK(archive::clean_member_name("manifest.json") == "manifest.json");
  CHECK(archive::clean_member_name("./blobs//sha256/ab") == "blobs/sha256/ab");
  CHECK(archive::clean_member_name("/abs/x") == "abs/x");
  CHECK(archive::clean_member_name("a/../b") == "b");
  CHECK_FALSE(archive::clean_member_name("../x"));
  CHECK_FALSE(archive::clean_member_name("a/../../x"));
  CHECK_FALSE(archive::clean_member_name("./"));
  CHECK_FALSE(archive::clean_member_name(""));
  CHECK(archive::resolve_member_link("abc/layer.tar", "../def.tar") == "def.tar");
  CHECK(archive::resolve_member_link("abc/layer.tar", "/def.tar") == "def.tar");
  CHECK_FALSE(archive::resolve_member_link("abc/layer.tar", "../../etc/passwd"));
}

TEST_CASE("manifest.json parses docker's and podman's shapes and round-trips") {
  auto entries = archive::parse_docker_manifest(
      R"([{"Config":"c.json","RepoTags":["busybox:latest"],"Layers":["a/layer.tar","b.tar"]},)"
      R"({"Config":"blobs/sha256/cc","RepoTags":null,"Layers":[],"LayerSources":{}}])");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].config == "c.json");
  CHECK(entries[0].repo_tags == std::vector<std::string>{"busybox:latest"});
  CHECK(entries[0].layers == std::vector<std::string>{"a/layer.tar", "b.tar"});
  CHECK(entries[1].repo_tags.empty());
  CHECK(archive::parse_docker_manifest(archive::serialize_docker_manifest(entries)) == entries);
  CHECK(archive::serialize_docker_manifest({{"c.json", {}, {"l.tar"}}}) ==
        R"([{"Config":"c.json","RepoTags":null,"Layers":["l.tar"]}])");

  CHECK_THROWS_WITH_AS(archive::parse_docker_manifest("{"), doctest::Contains("manifest.json: invalid JSON"), Error);
  CHECK_THROWS_WITH_AS(archive::parse_docker_manifest("[]"), "manifest.json: lists no image", Error);
  CHECK_THROWS_WITH_AS(archive::parse_docker_manifest(R"([{"Layers":[]}])"),
                       R"(manifest.json: entry 0: field "Config" must be a member name)", Error);
  CHECK_THROWS_WITH_AS(archive::parse_docker_manifest(R"([{"Config":"c","Layers":"x"}])"),
                       R"(manifest.json: entry 0: field "Layers" must be a list of strings)", Error);
  CHECK(archive::serialize_repositories({{"docker.io/library/busybox", {{"latest", "abc"}}}}) ==
        R"({"docker.io/library/busybox":{"latest":"abc"}})");
}

TEST_CASE("OCI layout: names from annotations as podman gives them") {
  using Map = std::map<std::string, std::string>;
  CHECK(archive::name_from_annotations(Map{}) == std::nullopt);
  CHECK(archive::name_from_annotations(Map{{"org.opencontainers.image.ref.name", "latest"}}) ==
        "localhost/latest:latest");
  CHECK(archive::name_from_annotations(Map{{"org.opencontainers.image.ref.name", "docker.io/library/x:1"}}) ==
        "docker.io/library/x:1");
  CHECK(archive::name_from_annotations(Map{{"org.opencontainers.image.ref.name", "latest"},
                                           {"io.containerd.image.name", "quay.io/a/b:2"}}) == "quay.io/a/b:2");
  auto written = archive::annotations_for_name("docker.io/library/busybox:latest");
  CHECK(written.at("org.opencontainers.image.ref.name") == "docker.io/library/busybox:latest");
  CHECK(archive::name_from_annotations(written) == "docker.io/library/busybox:latest");
  CHECK_NOTHROW(archive::check_oci_layout(archive::oci_layout_file()));
  CHECK_THROWS_AS(archive::check_oci_layout(R"({"imageLayoutVersion":"2.0.0"})"), Error);
  CHECK_THROWS_AS(archive::check_oci_layout("[]"), Error);
}

TEST_CASE("ArchiveReader spools members under its own names and follows links inside") {
  Fixture f;
  fs::path tar = f.dir.path() / "links.tar";
  {
    // Symlinks and hardlinks need raw libarchive: ArchiveOutput writes files only.
    auto fd = util::open_file(tar, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    struct archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_fd(a, fd.get());
    auto add = [&](const char* name, mode_t type, std::string_view data, const char* link = nullptr,
                   bool hard = false) {
      struct archive_entry* e = archive_entry_new();
      archive_entry_set_pathname(e, name);
      archive_entry_set_filetype(e, type);
      archive_entry_set_perm(e, 0644);
      if (link && hard) archive_entry_set_hardlink(e, link);
      else if (link) archive_entry_set_symlink(e, link);
      archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
      archive_write_header(a, e);
      if (!data.empty()) archive_write_data(a, data.data(), data.size());
      archive_entry_free(e);
    };
    add("x.tar", AE_IFREG, "layer");
    add("id/layer.tar", AE_IFLNK, "", "../x.tar");
    add("hard", AE_IFREG, "", "x.tar", true);
    add("../../escape", AE_IFREG, "evil");
    add("out", AE_IFLNK, "", "../../../etc/passwd");
    add("loop", AE_IFLNK, "", "loop");
    archive_write_close(a);
    archive_write_free(a);
  }
  fs::path spool = f.dir.path() / "spool";
  util::make_dirs(spool);
  auto fd = util::open_read(tar);
  auto reader = archive::ArchiveReader::read_tar(fd, spool, "links.tar");
  CHECK(reader.read("x.tar") == "layer");
  CHECK(reader.read("./id/layer.tar") == "layer");
  CHECK(reader.read("hard") == "layer");
  CHECK_FALSE(reader.has("escape"));
  CHECK_FALSE(reader.has("out"));
  CHECK_THROWS_WITH_AS(reader.read("../../escape"), R"(member name "../../escape" leaves the archive)", Error);
  CHECK_THROWS_WITH_AS(reader.read("loop"), doctest::Contains("too many levels of links"), Error);
  CHECK_THROWS_WITH_AS(reader.read("nope"), R"(missing member "nope")", Error);
  // Only our numbered files exist in the spool, never a member's own name.
  for (const auto& entry : fs::directory_iterator(spool)) CHECK(entry.path().filename().string()[0] == 'm');
  fs::path copy = reader.file("id/layer.tar");
  CHECK(file_content(copy) == "layer");
  CHECK(copy.parent_path() == spool);
}

TEST_CASE("ArchiveReader reports truncated archives") {
  Fixture f;
  std::string big(100000, 'x');
  fs::path tar = f.make_tar("full.tar", {{"manifest.json", "[]"}, {"big", big}});
  std::string bytes = file_content(tar);
  fs::path cut = f.dir.path() / "cut.tar";
  util::write_file_atomic(cut, std::string_view(bytes).substr(0, 60000));
  fs::path spool = f.dir.path() / "spool";
  util::make_dirs(spool);
  auto fd = util::open_read(cut);
  CHECK_THROWS_WITH_AS(archive::ArchiveReader::read_tar(fd, spool, "cut.tar"), doctest::Contains("member \"big\""),
                       Error);
}

TEST_CASE("save and load round-trip in all formats, keeping id, names and config bytes") {
  for (auto format : {archive::SaveFormat::docker_archive, archive::SaveFormat::oci_archive,
                      archive::SaveFormat::oci_dir}) {
    CAPTURE(static_cast<int>(format));
    Fixture g;  // a fresh destination store per format
    auto image = g.make_image("localhost/app:1");
    std::string config = g.store.read_blob(image.config_digest);
    fs::path out = g.dir.path() / "out";
    auto item = archive::resolve_save_image(g.store, "localhost/app:1");
    CHECK(item.name == "localhost/app:1");
    archive::save_to_path(g.store, {item}, format, out);
    auto loaded = g.load(out);
    REQUIRE(loaded.size() == 1);
    CHECK(loaded[0].id == image.id);
    CHECK(loaded[0].names == std::vector<std::string>{"localhost/app:1"});
    auto copy = g.other.image("localhost/app:1");
    CHECK(copy.id == image.id);
    CHECK(g.other.read_blob(copy.config_digest) == config);
    CHECK(copy.layers == image.layers);
    CHECK(archive::loaded_lines(loaded) == std::vector<std::string>{"Loaded image: localhost/app:1"});
    if (format == archive::SaveFormat::docker_archive) {
      // Uncompressed layers: the blob is the diff id; the manifest says so.
      auto manifest = image::Manifest::parse(g.other.read_blob(*copy.manifest_digest));
      CHECK(manifest.layers[0].media_type == "application/vnd.oci.image.layer.v1.tar");
      CHECK(manifest.layers[0].digest == g.other.layer(copy.layers[0]).diff_id);
    }
  }
}

TEST_CASE("save: by id gives no name; several images and names share one archive") {
  Fixture f;
  auto image = f.make_image("localhost/app:1");
  f.store.tag(image.id, "localhost/app:2");
  auto by_id = archive::resolve_save_image(f.store, image.id.short_hex());
  CHECK_FALSE(by_id.name);
  fs::path out = f.dir.path() / "multi.tar";
  archive::save_to_path(f.store,
                        {archive::resolve_save_image(f.store, "localhost/app:1"),
                         archive::resolve_save_image(f.store, "localhost/app:2")},
                        archive::SaveFormat::docker_archive, out);
  auto loaded = f.load(out);
  REQUIRE(loaded.size() == 1);
  CHECK(loaded[0].names == std::vector<std::string>{"localhost/app:1", "localhost/app:2"});

  fs::path anonymous = f.dir.path() / "anon.tar";
  archive::save_to_path(f.store, {by_id}, archive::SaveFormat::oci_archive, anonymous);
  Fixture g;
  auto again = g.load(anonymous);
  REQUIRE(again.size() == 1);
  CHECK(again[0].names.empty());
  CHECK(archive::loaded_lines(again) == std::vector<std::string>{"Loaded image: " + image.id.str()});
}

TEST_CASE("load refuses corrupt archives and records no image") {
  Fixture f;
  auto layer = f.make_layer("l", {{"a", "A"}}, layer::Compression::none);
  auto other_layer = f.make_layer("m", {{"a", "B"}}, layer::Compression::none);
  std::string layer_bytes = file_content(layer);
  auto diff_id = util::sha256_of(layer_bytes);
  image::ImageConfig config;
  config.os = "linux";
  config.architecture = "amd64";
  config.diff_ids = {diff_id};
  std::string config_bytes = config.bytes();
  std::string manifest = R"([{"Config":"c.json","RepoTags":["x:1"],"Layers":["l.tar"]}])";

  auto expect_failure = [&](const std::string& name, const std::vector<std::pair<std::string, std::string>>& members,
                            const std::string& message) {
    CAPTURE(name);
    auto tar = f.make_tar(name, members);
    std::string text;
    try {
      f.load(tar);
    } catch (const Error& e) {
      text = util::describe(e);
    }
    CHECK(text.find(message) != std::string::npos);
    CHECK(text.starts_with("load " + tar.string() + ": "));
    CHECK(f.other.list_images().empty());
  };
  // A good one first, so the failures below are about their one defect.
  CHECK(f.load(f.make_tar("good.tar", {{"c.json", config_bytes}, {"l.tar", layer_bytes}, {"manifest.json", manifest}}))
            .size() == 1);
  f.other.remove_image(f.other.image("docker.io/library/x:1").id);
  expect_failure("mismatch.tar",
                 {{"c.json", config_bytes}, {"l.tar", file_content(other_layer)}, {"manifest.json", manifest}},
                 "member \"l.tar\":");
  expect_failure("missing.tar", {{"c.json", config_bytes}, {"manifest.json", manifest}}, "missing member \"l.tar\"");
  expect_failure("badjson.tar", {{"c.json", config_bytes}, {"l.tar", layer_bytes}, {"manifest.json", "[{"}},
                 "manifest.json: invalid JSON");
  expect_failure("badconfig.tar", {{"c.json", "{}x"}, {"l.tar", layer_bytes}, {"manifest.json", manifest}},
                 "member \"c.json\"");
  expect_failure("neither.tar", {{"x", "y"}}, "not a docker or OCI archive");
  expect_failure("escape.tar",
                 {{"c.json", config_bytes},
                  {"l.tar", layer_bytes},
                  {"manifest.json", R"([{"Config":"../c.json","RepoTags":[],"Layers":["l.tar"]}])"}},
                 "leaves the archive");
  try {
    f.load(f.make_tar("mismatch2.tar",
                      {{"c.json", config_bytes}, {"l.tar", file_content(other_layer)}, {"manifest.json", manifest}}));
  } catch (const Error& e) {
    CHECK(util::kind_of(e) == ErrorKind::corrupt);
    CHECK(util::describe(e).starts_with("load "));
  }
}
