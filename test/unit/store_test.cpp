// store: blobs, chain ids, layers (and one extraction across processes),
// images and names, removal and collection, check/repair, sweep, crash safety.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "store/staging.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace kiln;
using store::Digest;
using store::ImageRecord;
using store::LayerRecord;
using store::StagingDir;
using store::Store;
namespace fs = std::filesystem;

namespace {

struct StoreFixture {
  util::TempDir dir{fs::temp_directory_path(), "kiln-store-test-"};
  fs::path root = dir.path() / "store";
  Store store = Store::open(root);
};

std::size_t count_entries(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++n;
  return n;
}

// A layer holding one file "content" with the given text; its diff id is the text's hash.
LayerRecord make_layer(Store& store, const std::optional<Digest>& parent, const std::string& text) {
  Digest diff = util::sha256_of(text);
  Digest chain = store::chain_id(parent, diff);
  return store.ensure_layer(chain, [&](const fs::path& dir) {
    auto fd = util::open_file(dir / "content", O_WRONLY | O_CREAT, 0644);
    util::write_all(fd, text);
    return LayerRecord{chain, diff, parent, std::nullopt, 0, text.size(), {}};
  });
}

// An image with one layer per text (base first) and a config unique to `tag`.
ImageRecord make_image(Store& store, const std::string& name, const std::vector<std::string>& layer_texts,
                       const std::string& config_text = "") {
  ImageRecord image;
  std::optional<Digest> parent;
  for (const auto& text : layer_texts) {
    parent = make_layer(store, parent, text).chain_id;
    image.layers.push_back(*parent);
  }
  image.config_digest = store.put_blob(config_text.empty() ? "{\"config\":\"" + name + "\"}" : config_text);
  image.id = image.config_digest;
  image.manifest_digest = store.put_blob("{\"manifest\":\"" + name + "\"}");
  image.manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
  if (!name.empty()) image.names.push_back(name);
  return store.add_image(image);
}

// Runs fn in a child process; returns its exit status (fn's exceptions give 1).
template <typename Fn>
int in_child(Fn fn) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      fn();
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs fn in a child with KILN_STORE_FAILPOINT=point; expects it to die there.
template <typename Fn>
void crash_at(const char* point, Fn fn) {
  int status = in_child([&] {
    ::setenv("KILN_STORE_FAILPOINT", point, 1);
    fn();
  });
  CHECK_MESSAGE(status == 99, "failpoint ", point, " was not reached (status ", status, ")");
}

}  // namespace

TEST_CASE("open creates the layout once, private to the user, with a format version") {
  StoreFixture f;
  for (const char* sub : {"blobs/sha256", "layers", "images", "containers", "cache", "tmp", "locks"})
    CHECK(fs::is_directory(f.root / sub));
  CHECK((fs::status(f.root).permissions() & fs::perms::all) == fs::perms::owner_all);
  CHECK(util::read_file(f.root / "version") == "1\n");
  CHECK_NOTHROW(Store::open(f.root));
  util::write_file_atomic(f.root / "version", "7\n");
  CHECK_THROWS_AS(Store::open(f.root), Error);
}

TEST_CASE("default root follows XDG, and root's is system-wide") {
  CHECK(store::default_root(0, "/x", "/home/a") == "/var/lib/kiln");
  CHECK(store::default_root(1000, "/x", "/home/a") == "/x/kiln");
  CHECK(store::default_root(1000, "relative", "/home/a") == "/home/a/.local/share/kiln");
  CHECK(store::default_root(1000, nullptr, "/home/a") == "/home/a/.local/share/kiln");
  CHECK_THROWS_AS(store::default_root(1000, nullptr, nullptr), Error);
}

TEST_CASE("chain ids follow the OCI rule") {
  auto d0 = Digest::parse("sha256:4fbec69b941195fd56f8212a5000e304129451d82efca94ff0e0fb2d5355472e");
  auto d1 = Digest::parse("sha256:77ea7eee3d80b1a38f83906dd3048e2689457eb90e18a7d12f839c5ae37106a2");
  auto d2 = Digest::parse("sha256:95cf1a2e1698fe3ca1fcc3f653119146b271d0b62e487ec264441e886a11bd06");
  CHECK(util::sha256_of("layer0") == d0);
  CHECK(store::chain_id(std::nullopt, d0) == d0);
  auto c1 = Digest::parse("sha256:ef232af0eb422cdfd7917631657cd8ed2bfd5b9461b37c427aa0d3e0a19adf79");
  auto c2 = Digest::parse("sha256:7ad3896338947cc04ee0b35b50d400ff32538d63f42f85ec87feac78bf71a54d");
  CHECK(store::chain_id(d0, d1) == c1);
  CHECK(store::chain_ids({d0, d1, d2}) == std::vector<Digest>{d0, c1, c2});
  CHECK(store::chain_ids({}).empty());
}

TEST_CASE("records round-trip through JSON") {
  LayerRecord layer{util::sha256_of("c"), util::sha256_of("d"), util::sha256_of("p"), util::sha256_of("b"), 10, 20,
                    std::chrono::system_clock::now()};
  CHECK(store::layer_from_json(store::to_json(layer), "t") == layer);
  ImageRecord image{util::sha256_of("i"), {"localhost/a:latest"}, {"localhost/a@" + util::sha256_of("m").str()},
                    util::sha256_of("m"), "application/vnd.oci.image.manifest.v1+json", util::sha256_of("i"),
                    util::sha256_of("c"), {util::sha256_of("c")}, std::chrono::system_clock::now(), 20};
  CHECK(store::image_from_json(store::to_json(image), "t") == image);
  image.layer_blobs = {util::sha256_of("b")};
  CHECK(store::image_from_json(store::to_json(image), "t") == image);
  store::ContainerRecord container{std::string(64, 'a'), "web", util::sha256_of("i"), std::nullopt,
                                   std::chrono::system_clock::now(), Json{{"status", "running"}}};
  CHECK(store::container_from_json(store::to_json(container), "t") == container);
  CHECK_THROWS_AS(store::layer_from_json(Json{{"chain_id", "x"}}, "t"), Error);
}

TEST_CASE("blobs: put, has, read, size, verification") {
  StoreFixture f;
  auto& s = f.store;
  Digest d = s.put_blob("hello");
  CHECK(d == util::sha256_of("hello"));
  CHECK(s.has_blob(d));
  CHECK(s.read_blob(d) == "hello");
  CHECK(s.blob_size(d) == 5);
  CHECK(s.blob_path(d) == f.root / "blobs/sha256" / std::string(d.hex()));
  CHECK(s.put_blob("hello", d) == d);  // idempotent

  SUBCASE("a digest mismatch stores nothing") {
    auto wrong = util::sha256_of("other");
    try {
      s.put_blob("tampered", wrong);
      FAIL("no error");
    } catch (const std::exception& e) {
      CHECK(util::kind_of(e) == ErrorKind::corrupt);
    }
    CHECK_FALSE(s.has_blob(wrong));
    CHECK_FALSE(s.has_blob(util::sha256_of("tampered")));
    CHECK(count_entries(f.root / "tmp") == 0);
    CHECK(s.list_blobs().size() == 1);
  }
  SUBCASE("a staged file is moved in, an outside file copied") {
    auto staging = s.staging_dir("download");
    auto staged = staging.path() / "blob";
    util::write_file_atomic(staged, "layer bytes");
    CHECK(s.put_blob_file(staged, util::sha256_of("layer bytes")) == util::sha256_of("layer bytes"));
    CHECK_FALSE(fs::exists(staged));
    auto outside = f.dir.path() / "outside";
    util::write_file_atomic(outside, "outside bytes");
    CHECK_THROWS_AS(s.put_blob_file(outside, util::sha256_of("nope")), Error);
    CHECK(s.put_blob_file(outside) == util::sha256_of("outside bytes"));
    CHECK(fs::exists(outside));
    CHECK(s.read_blob(util::sha256_of("outside bytes")) == "outside bytes");
  }
  SUBCASE("put_written_blob moves a file from tmp/ under the digest given, refuses others") {
    auto staging = s.staging_dir("build-blob");
    auto staged = staging.path() / "layer.tar";
    util::write_file_atomic(staged, "tar bytes");
    CHECK(s.put_written_blob(staged, util::sha256_of("tar bytes")) == util::sha256_of("tar bytes"));
    CHECK_FALSE(fs::exists(staged));
    CHECK(s.read_blob(util::sha256_of("tar bytes")) == "tar bytes");
    // The same content again: already stored, nothing to move.
    util::write_file_atomic(staged, "tar bytes");
    CHECK(s.put_written_blob(staged, util::sha256_of("tar bytes")) == util::sha256_of("tar bytes"));
    auto outside = f.dir.path() / "outside-written";
    util::write_file_atomic(outside, "outside bytes");
    CHECK_THROWS_AS(s.put_written_blob(outside, util::sha256_of("outside bytes")), Error);
    CHECK(fs::exists(outside));
    CHECK_FALSE(s.has_blob(util::sha256_of("outside bytes")));
  }
  SUBCASE("absent blobs are not_found; unused blobs can be removed") {
    auto absent = util::sha256_of("absent");
    try {
      s.read_blob(absent);
      FAIL("no error");
    } catch (const std::exception& e) {
      CHECK(util::is_not_found(e));
    }
    CHECK(s.remove_blob(d));
    CHECK_FALSE(s.remove_blob(d));
    CHECK_FALSE(s.has_blob(d));
  }
}

TEST_CASE("layers: publish, lookup, parents, removal") {
  StoreFixture f;
  auto& s = f.store;
  auto base = make_layer(s, std::nullopt, "base");
  CHECK(s.has_layer(base.chain_id));
  CHECK(base.chain_id == base.diff_id);
  CHECK(util::read_file(s.layer_dir(base.chain_id) / "content") == "base");
  CHECK(s.layer(base.chain_id) == base);
  CHECK(base.created != std::chrono::system_clock::time_point{});

  SUBCASE("publish_layer moves a staged tree in, record and tree together") {
    auto staging = s.staging_dir("build");
    util::make_dirs(staging.path() / "tree");
    util::write_file_atomic(staging.path() / "tree" / "file", "x");
    Digest diff = util::sha256_of("tree");
    auto blob = s.put_blob("compressed tree");
    LayerRecord record{store::chain_id(base.chain_id, diff), diff, base.chain_id, blob, 15, 1, {}};
    auto published = s.publish_layer(record, staging.path() / "tree");
    CHECK(published.chain_id == record.chain_id);
    CHECK(util::read_file(s.layer_dir(record.chain_id) / "file") == "x");
    CHECK(s.list_layers().size() == 2);
    // Its parent cannot go while it is there.
    CHECK_THROWS_AS(s.remove_layer(base.chain_id), Error);
    s.remove_layer(record.chain_id);
    CHECK_FALSE(s.has_layer(record.chain_id));
    s.remove_layer(base.chain_id);
    CHECK(s.list_layers().empty());
  }
  SUBCASE("a record must follow from its parent and point at what exists") {
    auto staging = s.staging_dir("build");
    util::make_dirs(staging.path() / "t");
    Digest diff = util::sha256_of("t");
    LayerRecord wrong{diff, diff, base.chain_id, std::nullopt, 0, 0, {}};
    CHECK_THROWS_AS(s.publish_layer(wrong, staging.path() / "t"), Error);
    auto missing_parent = util::sha256_of("nowhere");
    util::make_dirs(staging.path() / "u");
    LayerRecord orphan{store::chain_id(missing_parent, diff), diff, missing_parent, std::nullopt, 0, 0, {}};
    CHECK_THROWS_AS(s.publish_layer(orphan, staging.path() / "u"), Error);
    CHECK_FALSE(s.has_layer(orphan.chain_id));
  }
  SUBCASE("publish_layers: a batch in order, parents first; an existing chain id is kept") {
    std::vector<store::StagedLayer> batch;
    // The base again, staged: the published one wins and its record comes back.
    batch.push_back(store::StagedLayer{base, s.stage_layer()});
    std::optional<Digest> parent = base.chain_id;
    for (std::string text : {"one", "two"}) {
      StagingDir entry = s.stage_layer();
      util::write_file_atomic(entry.path() / "diff" / "file", text);
      Digest diff = util::sha256_of(text);
      LayerRecord record{store::chain_id(parent, diff), diff, parent, std::nullopt, 0, text.size(), {}};
      parent = record.chain_id;
      batch.push_back(store::StagedLayer{record, std::move(entry)});
    }
    auto published = s.publish_layers(batch);
    REQUIRE(published.size() == 3);
    CHECK(published[0] == base);
    CHECK(util::read_file(s.layer_dir(published[2].chain_id) / "file") == "two");
    CHECK(s.layer(published[2].chain_id).parent == published[1].chain_id);
    batch.clear();  // the unused staged copy of the base goes with its entry
    CHECK(count_entries(f.root / "tmp") == 0);
    CHECK(s.check(false).ok());
  }
  SUBCASE("publish_layers: a layer whose parent is missing fails, nothing of it stays in tmp/") {
    std::vector<store::StagedLayer> batch;
    Digest nowhere = util::sha256_of("nowhere");
    Digest diff = util::sha256_of("orphan");
    batch.push_back(store::StagedLayer{LayerRecord{store::chain_id(nowhere, diff), diff, nowhere, std::nullopt, 0, 0, {}},
                                       s.stage_layer()});
    CHECK_THROWS_AS(s.publish_layers(batch), Error);
    CHECK_FALSE(s.has_layer(store::chain_id(nowhere, diff)));
    batch.clear();
    CHECK(count_entries(f.root / "tmp") == 0);
  }
  SUBCASE("an extraction that fails leaves nothing behind") {
    Digest diff = util::sha256_of("bad");
    CHECK_THROWS_AS(s.ensure_layer(diff, [](const fs::path&) -> LayerRecord { throw Error("bad tar"); }), Error);
    CHECK_FALSE(s.has_layer(diff));
    CHECK(count_entries(f.root / "tmp") == 0);
  }
}

TEST_CASE("ensure_layer: four processes, one extraction") {
  StoreFixture f;
  auto counter = f.dir.path() / "extractions";
  Digest diff = util::sha256_of("shared layer");
  std::vector<pid_t> children;
  for (int i = 0; i < 4; ++i) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int code = 0;
      try {
        auto s = Store::open(f.root);
        auto record = s.ensure_layer(diff, [&](const fs::path& dir) {
          auto fd = util::open_file(counter, O_WRONLY | O_CREAT | O_APPEND, 0644);
          util::write_all(fd, "x");
          std::this_thread::sleep_for(std::chrono::milliseconds(150));  // let the others queue up
          util::write_file_atomic(dir / "data", "shared");
          return LayerRecord{diff, diff, std::nullopt, std::nullopt, 0, 6, {}};
        });
        if (util::read_file(s.layer_dir(record.chain_id) / "data") != "shared") code = 2;
      } catch (...) {
        code = 1;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(util::read_file(counter) == "x");
  CHECK(f.store.list_layers().size() == 1);
  CHECK(count_entries(f.root / "tmp") == 0);
}

TEST_CASE("images: add and find by name, id, prefix") {
  StoreFixture f;
  auto& s = f.store;
  auto a = make_image(s, "docker.io/library/busybox:latest", {"l0", "l1"});
  CHECK(a.top_layer == a.layers.back());
  CHECK(a.size == 4);
  CHECK(s.image_size(a.layers) == 4);
  CHECK(s.find_image("docker.io/library/busybox:latest")->id == a.id);
  CHECK(s.find_image(a.id.str())->id == a.id);
  CHECK(s.find_image(std::string(a.id.hex()))->id == a.id);
  CHECK(s.find_image(std::string(a.id.hex().substr(0, 3)))->id == a.id);
  CHECK(s.find_image("sha256:" + std::string(a.id.hex().substr(0, 5)))->id == a.id);
  CHECK_FALSE(s.find_image(std::string(a.id.hex().substr(0, 2))));  // too short for a prefix
  CHECK_FALSE(s.find_image("localhost/other:latest"));
  try {
    s.image("localhost/other:latest");
    FAIL("no error");
  } catch (const std::exception& e) {
    CHECK(util::is_not_found(e));
  }

  SUBCASE("an ambiguous prefix is an error") {
    // Two configs whose ids share their first 3 hex digits.
    std::map<std::string, std::string> by_prefix;
    std::string first, second;
    for (int i = 0; second.empty(); ++i) {
      std::string text = "{\"n\":" + std::to_string(i) + "}";
      auto prefix = std::string(util::sha256_of(text).hex().substr(0, 3));
      if (auto it = by_prefix.find(prefix); it != by_prefix.end()) {
        first = it->second;
        second = text;
      } else {
        by_prefix.emplace(prefix, text);
      }
    }
    auto x = make_image(s, "localhost/x:latest", {"l0"}, first);
    auto y = make_image(s, "localhost/y:latest", {"l0"}, second);
    auto prefix = std::string(x.id.hex().substr(0, 3));
    try {
      s.find_image(prefix);
      FAIL("no error");
    } catch (const std::exception& e) {
      CHECK(util::kind_of(e) == ErrorKind::invalid_input);
      CHECK(std::string(e.what()).find("ambiguous") != std::string::npos);
    }
    CHECK(s.find_image(std::string(x.id.hex().substr(0, 12)))->id == x.id);  // longer ones resolve
    CHECK(s.find_image("localhost/y:latest")->id == y.id);
  }
  SUBCASE("repo digests find their image") {
    auto record = s.image(a.id.str());
    record.digests.push_back("docker.io/library/busybox@" + record.manifest_digest->str());
    s.add_image(record);
    CHECK(s.find_image("docker.io/library/busybox@" + record.manifest_digest->str())->id == a.id);
    CHECK(s.list_images().size() == 1);
  }
  SUBCASE("adding a record that points at missing things fails and stores nothing") {
    ImageRecord bad = a;
    bad.names = {"localhost/bad:latest"};
    bad.layers.push_back(util::sha256_of("no such layer"));
    CHECK_THROWS_AS(s.add_image(bad), Error);
    ImageRecord no_config;
    no_config.id = no_config.config_digest = util::sha256_of("no such config");
    CHECK_THROWS_AS(s.add_image(no_config), Error);
    CHECK(s.list_images().size() == 1);
    CHECK_FALSE(s.find_image("localhost/bad:latest"));
  }
}

TEST_CASE("images: names are unique, tag moves them, untag removes them") {
  StoreFixture f;
  auto& s = f.store;
  auto a = make_image(s, "localhost/app:latest", {"l0"}, "{\"a\":1}");
  auto b = make_image(s, "localhost/app:v2", {"l0"}, "{\"b\":1}");
  s.tag(b.id, "localhost/app:latest");
  CHECK(s.find_image("localhost/app:latest")->id == b.id);
  CHECK(s.image(a.id.str()).names.empty());
  CHECK(s.image(b.id.str()).names == std::vector<std::string>{"localhost/app:v2", "localhost/app:latest"});
  // add_image with a taken name moves it as well.
  make_image(s, "localhost/app:v2", {"l0"}, "{\"c\":1}");
  CHECK(s.image(b.id.str()).names == std::vector<std::string>{"localhost/app:latest"});
  CHECK(s.untag("localhost/app:latest") == b.id);
  CHECK_FALSE(s.find_image("localhost/app:latest"));
  CHECK_THROWS_AS(s.untag("localhost/app:latest"), Error);
  CHECK_THROWS_AS(s.tag(util::sha256_of("nothing"), "localhost/z:latest"), Error);
  CHECK(s.list_images().size() == 3);
}

TEST_CASE("remove_image keeps what others use and collects the rest") {
  StoreFixture f;
  auto& s = f.store;
  auto a = make_image(s, "localhost/a:latest", {"base", "a-only"});
  auto b = make_image(s, "localhost/b:latest", {"base", "b-only"});
  REQUIRE(a.layers[0] == b.layers[0]);
  CHECK(s.list_layers().size() == 3);  // the shared base is stored once

  auto removed = s.remove_image(a.id);
  CHECK(removed.untagged == std::vector<std::string>{"localhost/a:latest"});
  CHECK(removed.layers == std::vector<Digest>{a.layers[1]});
  CHECK(removed.blobs.size() == 2);  // config and manifest
  CHECK_FALSE(s.find_image("localhost/a:latest"));
  CHECK(s.has_layer(a.layers[0]));
  CHECK_FALSE(s.has_layer(a.layers[1]));
  CHECK_FALSE(s.has_blob(a.config_digest));
  CHECK(s.has_blob(b.config_digest));
  CHECK(count_entries(f.root / "tmp") == 0);

  SUBCASE("a container keeps its image and layers") {
    auto c = s.add_container({"", "web", b.id, b.top_layer, {}, Json::object()});
    CHECK(c.id.size() == 64);
    CHECK(fs::is_directory(s.container_dir(c.id)));
    try {
      s.remove_image(b.id);
      FAIL("no error");
    } catch (const std::exception& e) {
      CHECK(util::kind_of(e) == ErrorKind::conflict);
    }
    CHECK(s.has_layer(b.layers[1]));
    CHECK_THROWS_AS(s.remove_layer(b.layers[1]), Error);
    s.remove_container(c.id);
    s.remove_image(b.id);
    CHECK(s.list_layers().empty());
    CHECK(s.list_blobs().empty());
  }
  SUBCASE("removing the last image empties the store") {
    auto last = s.remove_image(b.id);
    CHECK(last.layers.size() == 2);
    CHECK(s.list_layers().empty());
    CHECK(s.list_blobs().empty());
    CHECK(s.list_images().empty());
    CHECK(s.check(false).ok());
  }
  SUBCASE("an unknown id is not_found") {
    try {
      s.remove_image(a.id);
      FAIL("no error");
    } catch (const std::exception& e) {
      CHECK(util::is_not_found(e));
    }
  }
}

TEST_CASE("a pulled image's layers may wait as blobs until first use") {
  StoreFixture f;
  auto& s = f.store;
  // Two layers, neither extracted: their blobs stand for them (layer_blobs).
  Digest base = store::chain_id(std::nullopt, util::sha256_of("base tar"));
  Digest top = store::chain_id(base, util::sha256_of("top tar"));
  std::string gz_head("\x1f\x8b\x08\x00", 4);
  // A gzip member ends with the uncompressed size (little endian): 1000 bytes here.
  Digest base_blob = s.put_blob(gz_head + std::string(20, 'x') + std::string("\xe8\x03\x00\x00", 4));
  Digest top_blob = s.put_blob("plain tar, not gzip");
  ImageRecord image;
  image.config_digest = image.id = s.put_blob("{\"config\":\"pulled\"}");
  image.manifest_digest = s.put_blob("{\"manifest\":\"pulled\"}");
  image.manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
  image.names = {"localhost/pulled:1"};
  image.layers = {base, top};
  image.layer_blobs = {base_blob, top_blob};
  ImageRecord stored = s.add_image(image);
  CHECK(stored.size == 1000 + s.blob_size(top_blob));  // gzip size field, else the blob's size
  CHECK(stored.top_layer == top);
  CHECK_FALSE(s.has_layer(base));
  CHECK(s.image("localhost/pulled:1").layer_blobs == image.layer_blobs);  // kept in the index
  CHECK(s.check(false).ok());
  // Its blobs are in use: gc keeps them, remove_blob refuses.
  CHECK(s.gc(std::chrono::seconds(0)).blobs.empty());
  CHECK_THROWS_AS(s.remove_blob(base_blob), Error);

  SUBCASE("rmi removes the blobs with the record") {
    auto removed = s.remove_image(stored.id);
    CHECK(removed.layers.empty());
    CHECK(removed.blobs.size() == 4);
    CHECK(s.list_blobs().empty());
    CHECK(s.check(false).ok());
  }
  SUBCASE("a layer blob that is gone is a missing layer") {
    ImageRecord other = image;
    other.config_digest = other.id = s.put_blob("{\"config\":\"other\"}");
    other.names = {"localhost/other:1"};
    other.layer_blobs[1] = util::sha256_of("never stored");
    CHECK_THROWS_AS(s.add_image(other), Error);
    other.layer_blobs.pop_back();  // not one blob per layer
    CHECK_THROWS_AS(s.add_image(other), Error);
    // Taken away behind the store's back: check names it.
    fs::remove(s.blob_path(top_blob));
    auto report = s.check(false);
    REQUIRE_FALSE(report.ok());
    CHECK(report.problems.back().find("its blob " + top_blob.str()) != std::string::npos);
  }
}

TEST_CASE("containers: records, unique names, lookup, state updates") {
  StoreFixture f;
  auto& s = f.store;
  auto img = make_image(s, "localhost/a:latest", {"l0"});
  auto c = s.add_container({"", "web", img.id, img.top_layer, {}, Json::object()});
  CHECK_THROWS_AS(s.add_container({"", "web", img.id, img.top_layer, {}, Json::object()}), Error);
  CHECK_THROWS_AS(s.add_container({"", "other", util::sha256_of("x"), std::nullopt, {}, Json::object()}), Error);
  CHECK(s.find_container("web")->id == c.id);
  CHECK(s.find_container(c.id.substr(0, 6))->id == c.id);
  CHECK_FALSE(s.find_container("nope"));
  c.state = Json{{"status", "exited"}, {"exit_code", 3}};
  s.update_container(c);
  CHECK(s.container("web").state["exit_code"] == 3);
  CHECK(s.list_containers().size() == 1);
  s.remove_container(c.id);
  CHECK(s.list_containers().empty());
  CHECK_THROWS_AS(s.remove_container(c.id), Error);
}

TEST_CASE("containers: removal in the background takes the record at once, the tree soon after") {
  StoreFixture f;
  auto& s = f.store;
  auto img = make_image(s, "localhost/a:latest", {"l0"});
  auto c = s.add_container({"", "quick", img.id, img.top_layer, {}, Json::object()}, false);
  fs::path dir = s.container_dir(c.id);
  util::make_dirs(dir / "upper/etc");
  util::write_file_atomic(dir / "upper/etc/hostname", "x\n");
  s.remove_container(c.id, false, /*in_background=*/true);
  CHECK_FALSE(fs::exists(dir));
  CHECK_FALSE(s.find_container("quick"));
  CHECK(s.check(false).ok());
  // A child of ours deletes the tree, holding its tmp/ entry locked: a sweep meanwhile
  // must leave the entry to it. Then tmp/ is empty and the child has exited.
  fs::path tmp = s.root() / "tmp";
  CHECK(store::sweep_staging(tmp, std::chrono::seconds(0)).empty());
  pid_t child = 0;
  int status = 0;
  for (int i = 0; i < 500; ++i) {
    pid_t done = ::waitpid(-1, &status, WNOHANG);
    if (done > 0) child = done;
    if (child && fs::is_empty(tmp)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(child > 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(fs::is_empty(tmp));
}

TEST_CASE("check finds corruption and repair removes it") {
  StoreFixture f;
  auto& s = f.store;
  auto a = make_image(s, "localhost/a:latest", {"base", "a-only"});
  auto b = make_image(s, "localhost/b:latest", {"base", "b-only"});
  auto c = make_image(s, "localhost/c:latest", {"c-only"});
  REQUIRE(s.check(false).ok());

  // A blob whose bytes changed, a layer without its tree, an image pointing at a gone layer.
  ::chmod(s.blob_path(a.manifest_digest.value()).c_str(), 0644);
  util::write_file_atomic(s.blob_path(a.manifest_digest.value()), "garbage");
  util::remove_tree(s.layer_dir(b.layers[1]));
  util::remove_tree(s.layer_dir(c.layers[0]).parent_path());

  auto report = s.check(false);
  CHECK_FALSE(report.ok());
  auto mentions = [&](const std::string& what) {
    for (const auto& line : report.problems)
      if (line.find(what) != std::string::npos) return true;
    return false;
  };
  CHECK(mentions("blob " + a.manifest_digest->str() + ": content hashes to"));
  CHECK(mentions("layer " + std::string(b.layers[1].hex()) + ": diff directory missing"));
  CHECK(mentions("image " + c.id.short_hex() + ": layer " + c.layers[0].str() + " missing"));
  CHECK(mentions("image " + a.id.short_hex()));
  CHECK(report.repaired.empty());
  for (const auto& line : report.problems) MESSAGE(line);

  auto repair = s.check(true);
  CHECK(repair.problems.size() == report.problems.size());
  CHECK_FALSE(repair.repaired.empty());
  CHECK(s.check(false).ok());
  // Broken images are gone with their names; the shared base layer stays.
  CHECK(s.list_images().empty());
  CHECK(s.has_layer(a.layers[0]));
  CHECK_FALSE(s.has_blob(a.manifest_digest.value()));
}

TEST_CASE("check reports an unreadable index and a stray layer record") {
  StoreFixture f;
  auto& s = f.store;
  make_image(s, "localhost/a:latest", {"l0"});
  util::write_file_atomic(f.root / "images/index", "kiln-image-index 1\nnot a record\n");
  util::make_dirs(f.root / "layers" / std::string(64, 'e'));
  auto report = s.check(false);
  CHECK(report.problems.size() == 2);
  s.check(true);
  CHECK(s.check(false).ok());
  CHECK(s.list_images().empty());
}

TEST_CASE("sweep removes a dead writer's staging entries, never a live one's") {
  StoreFixture f;
  auto& s = f.store;
  // A child that dies with a staging dir half filled (as kill -9 would leave it).
  CHECK(in_child([&] {
          auto child_store = Store::open(f.root);
          auto entry = new StagingDir(child_store.staging_dir("extract"));
          util::write_file_atomic(entry->path() / "half", "x");
          ::_exit(0);
        }) == 0);
  REQUIRE(count_entries(f.root / "tmp") == 1);

  // A live writer in another process, and one in this process.
  int ready[2], go[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(go) == 0);
  pid_t live = ::fork();
  REQUIRE(live >= 0);
  if (live == 0) {
    auto child_store = Store::open(f.root);
    auto entry = child_store.staging_dir("pull");
    char c = 1;
    (void)!::write(ready[1], &c, 1);
    (void)!::read(go[0], &c, 1);
    ::_exit(fs::exists(entry.path()) ? 0 : 3);
  }
  char c;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  auto mine = s.staging_dir("build");
  REQUIRE(count_entries(f.root / "tmp") == 3);

  auto removed = s.sweep();
  CHECK(removed.size() == 1);
  CHECK(removed.at(0).filename().string().starts_with("extract-"));
  CHECK(fs::exists(mine.path()));
  CHECK(count_entries(f.root / "tmp") == 2);

  (void)!::write(go[1], &c, 1);
  int status = 0;
  ::waitpid(live, &status, 0);
  CHECK(WEXITSTATUS(status) == 0);
  for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
}

TEST_CASE("staging entry names carry their owner's pid") {
  CHECK(store::staging_owner_pid("layer-1234-AbC123") == 1234);
  CHECK(store::staging_owner_pid("my-prefix-77-zzzzzz") == 77);
  CHECK(store::staging_owner_pid("nopid") == 0);
  CHECK(store::staging_owner_pid("x-y-abcdef") == 0);
}

TEST_CASE("crash safety: dying between any two steps leaves a store check accepts") {
  StoreFixture f;
  auto& s = f.store;
  auto base = make_image(s, "localhost/base:latest", {"base"});

  auto open_child = [&] { return Store::open(f.root); };
  crash_at("blob-before-rename", [&] { open_child().put_blob("a blob"); });
  crash_at("layer-extracted", [&] {
    auto cs = open_child();
    make_layer(cs, std::nullopt, "half extracted");
  });
  crash_at("layer-before-rename", [&] {
    auto cs = open_child();
    make_layer(cs, base.layers[0], "almost published");
  });
  crash_at("layer-after-rename", [&] {
    auto cs = open_child();
    make_layer(cs, base.layers[0], "published");
  });
  crash_at("file-before-rename", [&] {
    auto cs = open_child();
    make_image(cs, "localhost/new:latest", {"base", "new"});
  });
  crash_at("container-before-rename", [&] {
    open_child().add_container({"", "web", base.id, base.top_layer, {}, Json::object()});
  });
  auto doomed = make_image(s, "localhost/doomed:latest", {"base", "doomed"});
  crash_at("image-record-removed", [&] { open_child().remove_image(doomed.id); });
  auto doomed2 = make_image(s, "localhost/doomed2:latest", {"base", "doomed2"});
  crash_at("unpublished", [&] { open_child().remove_image(doomed2.id); });

  CHECK(count_entries(f.root / "tmp") > 0);
  auto report = Store::open(f.root).check(false);
  for (const auto& line : report.problems) MESSAGE(line);
  CHECK(report.ok());
  CHECK(count_entries(f.root / "tmp") == 0);  // check swept the leftovers
  CHECK(s.find_image("localhost/base:latest"));
  CHECK_FALSE(s.find_image("localhost/new:latest"));
  CHECK_FALSE(s.find_image("localhost/doomed:latest"));
  CHECK(s.list_containers().empty());
  // Leftovers nothing references are garbage, collected by gc.
  auto collected = s.gc(std::chrono::seconds(0));
  CHECK_FALSE(collected.layers.empty());
  CHECK(s.check(false).ok());
  CHECK(s.list_layers().size() == 1);
}

TEST_CASE("crash safety: kill -9 at random moments") {
  StoreFixture f;
  for (int round = 0; round < 12; ++round) {
    int progress[2];
    REQUIRE(::pipe(progress) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      try {
        auto cs = Store::open(f.root);
        for (int i = 0;; ++i) {
          auto name = "localhost/r" + std::to_string(round) + ":" + std::to_string(i);
          auto img = make_image(cs, name, {"base", name}, "{\"r\":\"" + name + "\"}");
          if (i % 2) cs.remove_image(img.id);
          char c = 1;
          (void)!::write(progress[1], &c, 1);
        }
      } catch (...) {
        ::_exit(1);
      }
    }
    ::close(progress[1]);
    // Wait for one finished step, then kill at a moment that varies with the round.
    char c;
    CHECK(::read(progress[0], &c, 1) == 1);
    ::close(progress[0]);
    std::this_thread::sleep_for(std::chrono::microseconds(700 * round));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    auto report = Store::open(f.root).check(false);
    for (const auto& line : report.problems) MESSAGE(line);
    CHECK(report.ok());
  }
  CHECK(f.store.list_images().size() >= 12);
}

TEST_CASE("gc collects unreferenced layers and blobs past a grace period") {
  StoreFixture f;
  auto& s = f.store;
  auto img = make_image(s, "localhost/a:latest", {"base"});
  auto orphan = make_layer(s, img.layers[0], "built, not yet committed");
  auto stray = s.put_blob("downloaded, not yet recorded");
  CHECK(s.gc().layers.empty());  // young: may belong to a build or pull in flight
  CHECK(s.has_blob(stray));
  // rmi keeps the base alive while a layer on disk sits on it.
  s.remove_image(img.id);
  CHECK(s.has_layer(img.layers[0]));
  auto collected = s.gc(std::chrono::seconds(0));
  CHECK(collected.layers.size() == 2);
  CHECK(collected.blobs == std::vector<Digest>{stray});
  CHECK(s.list_layers().empty());
  CHECK(s.list_blobs().empty());
  CHECK_FALSE(s.has_layer(orphan.chain_id));
}

TEST_CASE("the driver is remembered") {
  StoreFixture f;
  CHECK_FALSE(f.store.driver());
  f.store.set_driver("overlay");
  CHECK(Store::open(f.root).driver() == "overlay");
  CHECK_THROWS_AS(f.store.set_driver("a/b"), Error);
}

TEST_CASE("locks: reentrant within a Store, exclusive across processes") {
  StoreFixture f;
  auto& s = f.store;
  {
    auto w = s.write_lock();
    auto r = s.read_lock();  // covered by the write hold
    auto img = make_image(s, "localhost/a:latest", {"l0"});  // nested commits reuse the hold
    // Another process cannot read meanwhile.
    CHECK(in_child([&] {
            auto probe = util::FileLock::try_lock(f.root / "store.lock", util::FileLock::Mode::shared);
            ::_exit(probe.held() ? 1 : 0);
          }) == 0);
  }
  {
    auto r = s.read_lock();
    CHECK_THROWS_AS(s.write_lock(), std::logic_error);
    CHECK(in_child([&] {
            auto probe = util::FileLock::try_lock(f.root / "store.lock", util::FileLock::Mode::shared);
            ::_exit(probe.held() ? 0 : 1);
          }) == 0);
  }
  CHECK(in_child([&] {
          auto probe = util::FileLock::try_lock(f.root / "store.lock", util::FileLock::Mode::exclusive);
          ::_exit(probe.held() ? 0 : 1);
        }) == 0);
  auto object = s.object_lock("layer-abc");
  CHECK(in_child([&] {
          auto probe = util::FileLock::try_lock(f.root / "locks/layer-abc.lock", util::FileLock::Mode::exclusive);
          ::_exit(probe.held() ? 1 : 0);
        }) == 0);
  CHECK_THROWS_AS(s.object_lock("../escape"), Error);
}

TEST_CASE("listing 1,000 images reads one index") {
  StoreFixture f;
  auto& s = f.store;
  auto base = make_layer(s, std::nullopt, "base");
  // Built through the pure index (1,000 add_image calls would mostly measure fsync).
  store::ImageIndex index;
  for (int i = 0; i < 1000; ++i) {
    ImageRecord r;
    r.id = r.config_digest = util::sha256_of("config " + std::to_string(i));
    r.names = {"localhost/img" + std::to_string(i) + ":latest"};
    r.manifest_digest = util::sha256_of("manifest " + std::to_string(i));
    r.layers = {base.chain_id};
    r.top_layer = base.chain_id;
    r.created = std::chrono::system_clock::now();
    index.put(r);
  }
  util::write_file_atomic(f.root / "images/index", index.serialize());

  // Each round a new Store, as each `kiln images` is a new process: nothing cached.
  std::chrono::steady_clock::duration best = std::chrono::hours(1);
  for (int round = 0; round < 5; ++round) {
    auto fresh = Store::open(f.root);
    auto start = std::chrono::steady_clock::now();
    auto loaded = fresh.image_index();
    best = std::min(best, std::chrono::steady_clock::now() - start);
    CHECK(loaded->images().size() == 1000);
    CHECK(loaded->images()[999].names[0] == "localhost/img999:latest");
  }
  MESSAGE("image_index of 1,000 records (best of 5, uncached): ",
          std::chrono::duration_cast<std::chrono::microseconds>(best).count(), " us");
  CHECK(Store::open(f.root).list_images().size() == 1000);
  auto fresh = Store::open(f.root);
  fresh.list_images();
  auto start = std::chrono::steady_clock::now();
  auto found = fresh.find_image("localhost/img500:latest");
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(found->id == util::sha256_of("config 500"));
  MESSAGE("find_image after a list (cached index): ",
          std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count(), " us");
}
