// archive: write_image (manifest shape, media types, idempotence, config checks),
// import_layer (digests, chain ids, re-import) and import_rootfs (config, history,
// changes, determinism, corrupt input leaves the store unchanged). These run
// without a user namespace: extraction skips chown (single_id), as kilnsolo's does.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include "archive/image_writer.hpp"
#include "archive/import.hpp"
#include "image/config.hpp"
#include "image/media_types.hpp"
#include "layer/create.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "tree_layer.hpp"

using namespace kiln;
namespace fs = std::filesystem;
namespace mt = image::media_type;

namespace {

struct Fixture {
  util::TempDir dir{fs::temp_directory_path(), "kiln-archive-test-"};
  store::Store store = store::Store::open(dir.path() / "store");

  // A tree with the given files ("name" -> content), tarred with the given compression.
  fs::path make_tar(const std::string& name, const std::map<std::string, std::string>& files,
                    layer::Compression compression = layer::Compression::gzip) {
    return test::make_tree_layer(dir.path(), name, files, compression, ".tar", true);
  }

  std::size_t count(const fs::path& sub) {
    std::size_t n = 0;
    std::error_code ec;
    for (fs::directory_iterator it(store.root() / sub, ec), end; !ec && it != end; it.increment(ec)) ++n;
    return n;
  }
};

archive::ImportLayerOptions solo() {
  archive::ImportLayerOptions options;
  options.single_id = true;
  return options;
}

std::string config_for(const std::vector<store::LayerRecord>& layers) {
  image::ImageConfig config;
  config.architecture = "amd64";
  config.os = "linux";
  config.created = "2024-01-02T03:04:05Z";
  for (const auto& layer : layers) config.diff_ids.push_back(layer.diff_id);
  return config.bytes();
}

}  // namespace

TEST_CASE("import_layer stores the blob, extracts the layer and is idempotent") {
  Fixture f;
  fs::path tar = f.make_tar("one", {{"etc/hello", "hi\n"}});
  auto blob_digest = util::sha256_of_file(tar);
  auto layer = archive::import_layer(f.store, tar, std::nullopt, solo());
  CHECK(layer.blob == blob_digest);
  CHECK(layer.chain_id == layer.diff_id);  // a base layer
  CHECK(f.store.has_blob(blob_digest));
  CHECK(util::read_file(f.store.layer_dir(layer.chain_id) / "etc/hello") == "hi\n");

  auto again = archive::import_layer(f.store, tar, std::nullopt, solo());
  CHECK(again == layer);
  CHECK(f.store.list_layers().size() == 1);

  // On top of it: the chain id follows parent and diff id.
  fs::path tar2 = f.make_tar("two", {{"etc/other", "x"}});
  auto top = archive::import_layer(f.store, tar2, layer.chain_id, solo());
  CHECK(top.parent == layer.chain_id);
  CHECK(top.chain_id == store::chain_id(layer.chain_id, top.diff_id));
}

TEST_CASE("import_layer verifies a given diff id and blob digest") {
  Fixture f;
  fs::path tar = f.make_tar("one", {{"a", "1"}});
  auto options = solo();
  options.diff_id = util::sha256_of("not the tar");
  CHECK_THROWS_AS(archive::import_layer(f.store, tar, std::nullopt, options), Error);
  CHECK(f.store.list_layers().empty());  // the blob may stay: gc's business

  Fixture g;
  tar = g.make_tar("one", {{"a", "1"}});
  options = solo();
  options.blob_digest = util::sha256_of("other bytes");
  CHECK_THROWS_AS(archive::import_layer(g.store, tar, std::nullopt, options), Error);
  CHECK(g.store.list_blobs().empty());
}

TEST_CASE("import_layer rejects a tarball that is not one") {
  Fixture f;
  fs::path junk = f.dir.path() / "junk";
  {
    auto fd = util::open_file(junk, O_WRONLY | O_CREAT, 0644);
    util::write_all(fd, std::string(2000, 'x'));
  }
  CHECK_THROWS_AS(archive::import_layer(f.store, junk, std::nullopt, solo()), Error);
  CHECK(f.store.list_layers().empty());
}

TEST_CASE("write_image builds an OCI manifest over the layers' blobs and records the image") {
  Fixture f;
  auto base = archive::import_layer(f.store, f.make_tar("base", {{"a", "1"}}), std::nullopt, solo());
  auto top = archive::import_layer(f.store, f.make_tar("top", {{"b", "2"}}, layer::Compression::zstd),
                                   base.chain_id, solo());
  std::string config = config_for({base, top});
  archive::WriteImageOptions options;
  options.names = {"localhost/app:latest"};
  auto written = archive::write_image(f.store, {base, top}, config, options);

  CHECK(written.record.id == util::sha256_of(config));
  CHECK(f.store.read_blob(written.record.id) == config);  // exact bytes
  CHECK(written.record.names == std::vector<std::string>{"localhost/app:latest"});
  CHECK(written.record.layers == std::vector<util::Digest>{base.chain_id, top.chain_id});
  CHECK(written.record.top_layer == top.chain_id);
  REQUIRE(written.record.manifest_digest);
  auto manifest = image::Manifest::parse(f.store.read_blob(*written.record.manifest_digest));
  CHECK(manifest.media_type == mt::kOciManifest);
  CHECK(manifest.config.media_type == mt::kOciConfig);
  CHECK(manifest.config.digest == written.record.id);
  CHECK(manifest.config.size == static_cast<std::int64_t>(config.size()));
  REQUIRE(manifest.layers.size() == 2);
  CHECK(manifest.layers[0].media_type == mt::kOciLayerGzip);
  CHECK(manifest.layers[0].digest == *base.blob);
  CHECK(manifest.layers[0].size == static_cast<std::int64_t>(f.store.blob_size(*base.blob)));
  CHECK(manifest.layers[1].media_type == mt::kOciLayerZstd);
  CHECK(f.store.image("localhost/app:latest").id == written.record.id);

  // Again with another name: one record, both names.
  options.names = {"localhost/other:1"};
  auto again = archive::write_image(f.store, {base, top}, config, options);
  CHECK(again.record.id == written.record.id);
  CHECK(f.store.list_images().size() == 1);
  CHECK(f.store.image(written.record.id.str()).names.size() == 2);
}

TEST_CASE("write_image writes Docker v2s2 when asked") {
  Fixture f;
  auto base = archive::import_layer(f.store, f.make_tar("base", {{"a", "1"}}), std::nullopt, solo());
  archive::WriteImageOptions options;
  options.docker_format = true;
  auto written = archive::write_image(f.store, {base}, config_for({base}), options);
  auto manifest = image::Manifest::parse(f.store.read_blob(*written.record.manifest_digest));
  CHECK(manifest.media_type == mt::kDockerManifest);
  CHECK(manifest.config.media_type == mt::kDockerConfig);
  CHECK(manifest.layers.at(0).media_type == mt::kDockerLayerGzip);
  CHECK(written.record.manifest_media_type == mt::kDockerManifest);
  CHECK(written.record.names.empty());
}

TEST_CASE("write_image refuses a config whose diff ids do not match the layers") {
  Fixture f;
  auto base = archive::import_layer(f.store, f.make_tar("base", {{"a", "1"}}), std::nullopt, solo());
  CHECK_THROWS_AS(archive::write_image(f.store, {base}, config_for({}), {}), Error);
  CHECK_THROWS_AS(archive::write_image(f.store, {base}, "not json", {}), Error);
  CHECK(f.store.list_images().empty());
}

TEST_CASE("import_rootfs makes a one-layer image with config, history and changes") {
  Fixture f;
  fs::path tar = f.make_tar("rootfs", {{"bin/sh", "#!"}, {"etc/passwd", "root:x:0:0::/:/bin/sh\n"}},
                            layer::Compression::none);
  archive::ImportOptions options;
  options.names = {"localhost/imported:latest"};
  options.changes = {"CMD [\"/bin/sh\"]", "ENV A=b", "WORKDIR /srv", "LABEL k=v"};
  options.message = "from a test";
  options.single_id = true;
  auto fd = util::open_read(tar);
  auto written = archive::import_rootfs(f.store, fd, tar.string(), options);

  auto config = image::ImageConfig::parse(f.store.read_blob(written.record.id));
  CHECK(config.os == "linux");
  CHECK_FALSE(config.architecture.empty());
  CHECK(config.config.cmd == std::vector<std::string>{"/bin/sh"});
  CHECK(config.config.env_value("A") == "b");
  CHECK(config.config.working_dir == "/srv");
  CHECK(config.config.labels.at("k") == "v");
  REQUIRE(config.diff_ids.size() == 1);
  REQUIRE(config.history.size() == 1);
  CHECK(config.history[0].comment == "from a test");
  CHECK(config.history[0].created_by == archive::import_created_by(config.diff_ids[0]));
  CHECK(config.history[0].created == config.created);
  auto layer = f.store.layer(written.record.layers.at(0));
  CHECK(layer.diff_id == config.diff_ids[0]);
  CHECK(util::read_file(f.store.layer_dir(layer.chain_id) / "etc/passwd") == "root:x:0:0::/:/bin/sh\n");
  CHECK(f.count("tmp") == 0);

  // The same content again (gzip this time): the same layer, a new image (new created time).
  fs::path gz = f.make_tar("rootfs2", {{"bin/sh", "#!"}, {"etc/passwd", "root:x:0:0::/:/bin/sh\n"}});
  auto fd2 = util::open_read(gz);
  archive::ImportOptions plain;
  plain.single_id = true;
  auto second = archive::import_rootfs(f.store, fd2, gz.string(), plain);
  CHECK(second.record.layers == written.record.layers);
  CHECK(f.store.list_layers().size() == 1);
}

TEST_CASE("import_rootfs of a corrupt tarball or a bad change leaves the store unchanged") {
  Fixture f;
  fs::path good = f.make_tar("rootfs", {{"a", std::string(100000, 'a')}});
  std::string bytes = util::read_file(good);
  fs::path cut = f.dir.path() / "cut.tar.gz";
  {
    auto fd = util::open_file(cut, O_WRONLY | O_CREAT, 0644);
    util::write_all(fd, bytes.substr(0, bytes.size() / 2));
  }
  archive::ImportOptions options;
  options.single_id = true;
  auto fd = util::open_read(cut);
  CHECK_THROWS_AS(archive::import_rootfs(f.store, fd, "cut.tar.gz", options), Error);
  CHECK(f.store.list_images().empty());
  CHECK(f.store.list_blobs().empty());
  CHECK(f.store.list_layers().empty());
  CHECK(f.count("tmp") == 0);

  options.changes = {"FROB x"};
  auto fd2 = util::open_read(good);
  CHECK_THROWS_AS(archive::import_rootfs(f.store, fd2, "good", options), Error);
  CHECK(f.store.list_blobs().empty());
}
