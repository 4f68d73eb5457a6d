// image: references, media types, platforms, manifests, indexes, configs, --change, inspect.
#include <doctest/doctest.h>

#include <string>

#include "image/change.hpp"
#include "image/config.hpp"
#include "image/inspect.hpp"
#include "image/json_text.hpp"
#include "image/manifest.hpp"
#include "image/media_types.hpp"
#include "image/platform.hpp"
#include "image/reference.hpp"
#include "util/error.hpp"

using namespace kiln;
using namespace kiln::image;

namespace {

const std::string kHexA(64, 'a');
const std::string kHexB(64, 'b');
const std::string kDigestA = "sha256:" + kHexA;
const std::string kDigestB = "sha256:" + kHexB;

// The message of the kiln::Error that f throws, checking its kind.
template <typename F>
std::string error_of(F&& f, ErrorKind kind = ErrorKind::invalid_input) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.kind() == kind);
    return e.what();
  }
  FAIL("did not throw");
  return {};
}

std::string normalized(std::string_view text) { return Reference::parse(text).str(); }
std::string familiar(std::string_view text) { return Reference::parse(text).familiar(); }

}  // namespace

// --- references ---

TEST_CASE("reference: Docker Hub normalisation") {
  CHECK(normalized("busybox") == "docker.io/library/busybox:latest");
  CHECK(normalized("busybox:1.36") == "docker.io/library/busybox:1.36");
  CHECK(normalized("user/app") == "docker.io/user/app:latest");
  CHECK(normalized("library/busybox") == "docker.io/library/busybox:latest");
  CHECK(normalized("docker.io/busybox") == "docker.io/library/busybox:latest");
  CHECK(normalized("index.docker.io/busybox") == "docker.io/library/busybox:latest");
  CHECK(normalized("docker.io/library/busybox:latest") == "docker.io/library/busybox:latest");
  CHECK(normalized("a/b/c/d") == "docker.io/a/b/c/d:latest");
}

TEST_CASE("reference: registries") {
  auto r = Reference::parse("localhost/x");
  CHECK(r.registry == "localhost");
  CHECK(r.repository == "x");
  CHECK(r.tag == "latest");
  CHECK(r.explicit_registry);
  CHECK_FALSE(r.explicit_tag);

  r = Reference::parse("localhost:5000/a/b:tag");
  CHECK(r.registry == "localhost:5000");
  CHECK(r.repository == "a/b");
  CHECK(r.tag == "tag");
  CHECK(r.explicit_tag);
  CHECK(r.str() == "localhost:5000/a/b:tag");

  r = Reference::parse("host.example.com/a/b:tag@" + kDigestA);
  CHECK(r.registry == "host.example.com");
  CHECK(r.repository == "a/b");
  CHECK(r.tag == "tag");
  REQUIRE(r.digest);
  CHECK(r.digest->str() == kDigestA);
  CHECK(r.str() == "host.example.com/a/b:tag@" + kDigestA);

  CHECK(normalized("127.0.0.1:5000/x") == "127.0.0.1:5000/x:latest");
  CHECK(normalized("[::1]:5000/x:t") == "[::1]:5000/x:t");
  CHECK(normalized("quay.io/podman/stable") == "quay.io/podman/stable:latest");
  CHECK(normalized("myhost:80/x") == "myhost:80/x:latest");
  // A first component without '.', ':' or localhost is a path component.
  CHECK(Reference::parse("myhost/x").registry == "docker.io");
  CHECK(Reference::parse("myhost/x").repository == "myhost/x");
  // Docker's rule: an uppercase first component can only be a registry.
  CHECK(Reference::parse("MyHost/x").registry == "MyHost");
}

TEST_CASE("reference: digest-only references keep no tag") {
  auto r = Reference::parse("busybox@" + kDigestA);
  CHECK(r.tag.empty());
  REQUIRE(r.digest);
  CHECK(r.str() == "docker.io/library/busybox@" + kDigestA);
  CHECK(r.familiar() == "busybox@" + kDigestA);
  CHECK(r.tagged().empty());
  CHECK(r.digested() == "docker.io/library/busybox@" + kDigestA);
  CHECK(Reference::parse("busybox@sha512:" + std::string(128, 'c')).digest->algorithm() == "sha512");
}

TEST_CASE("reference: familiar form") {
  CHECK(familiar("busybox") == "busybox:latest");
  CHECK(familiar("docker.io/library/busybox:1") == "busybox:1");
  CHECK(familiar("user/app") == "user/app:latest");
  CHECK(familiar("library/a/b") == "library/a/b:latest");
  CHECK(familiar("localhost/x") == "localhost/x:latest");
  CHECK(familiar("quay.io/a/b:t") == "quay.io/a/b:t");
  CHECK(Reference::parse("busybox").familiar_name() == "busybox");
  CHECK(Reference::parse("busybox").name() == "docker.io/library/busybox");
}

TEST_CASE("reference: separators and tags that are valid") {
  CHECK(normalized("x/a.b_c__d-e---f/g") == "docker.io/x/a.b_c__d-e---f/g:latest");
  CHECK(Reference::parse("a.b/c").registry == "a.b");  // a '.' makes the first component a registry
  CHECK(normalized("x:Tag_1.0-rc") == "docker.io/library/x:Tag_1.0-rc");
  CHECK(normalized("x:_hidden") == "docker.io/library/x:_hidden");
  CHECK(normalized("x:" + std::string(128, 'a')) == "docker.io/library/x:" + std::string(128, 'a'));
  CHECK(normalized("localhost:5000") == "docker.io/library/localhost:5000");  // as Docker reads it
  CHECK(valid_tag("v1"));
  CHECK_FALSE(valid_tag(".v1"));
  CHECK_FALSE(valid_tag("-v1"));
  CHECK_FALSE(valid_tag(std::string(129, 'a')));
  CHECK(valid_registry("a-b.example.com:443"));
  CHECK(valid_registry("[fe80::1%25]") == false);
  CHECK_FALSE(valid_registry("-a.com"));
  CHECK_FALSE(valid_registry("a.com:"));
  CHECK_FALSE(valid_registry("a.com:99999x"));
}

TEST_CASE("reference: invalid references say why") {
  CHECK(error_of([] { Reference::parse("Foo:bar"); }) ==
        "invalid reference \"Foo:bar\": repository name must be lowercase");
  CHECK(error_of([] { Reference::parse("docker.io/Foo"); }) ==
        "invalid reference \"docker.io/Foo\": repository name must be lowercase");
  CHECK(error_of([] { Reference::parse(""); }) == "invalid reference \"\": empty reference");
  CHECK(error_of([] { Reference::parse("a:"); }) == "invalid reference \"a:\": invalid tag \"\"");
  CHECK(error_of([] { Reference::parse("a:-x"); }) == "invalid reference \"a:-x\": invalid tag \"-x\"");
  CHECK(error_of([] { Reference::parse("a:" + std::string(129, 'b')); }).find("invalid tag") != std::string::npos);
  CHECK(error_of([] { Reference::parse("a//b"); }) ==
        "invalid reference \"a//b\": invalid repository name component \"\"");
  CHECK(error_of([] { Reference::parse("a/-b"); }).find("component \"-b\"") != std::string::npos);
  CHECK(error_of([] { Reference::parse("a/b_"); }).find("component \"b_\"") != std::string::npos);
  CHECK(error_of([] { Reference::parse("a___b"); }).find("component \"a___b\"") != std::string::npos);
  CHECK(error_of([] { Reference::parse("a..b"); }).find("component") != std::string::npos);
  CHECK(error_of([] { Reference::parse("a b"); }).find("component") != std::string::npos);
  CHECK(error_of([] { Reference::parse("a@sha256:abc"); }) ==
        "invalid reference \"a@sha256:abc\": invalid digest \"sha256:abc\"");
  CHECK(error_of([] { Reference::parse("a@md5:" + std::string(32, '0')); })
            .find("unsupported digest algorithm \"md5\"") != std::string::npos);
  CHECK(error_of([] { Reference::parse("a@sha256:" + std::string(63, 'a')); }).find("invalid sha256 digest") !=
        std::string::npos);
  CHECK(error_of([] { Reference::parse(kHexA); }).find("64-byte hexadecimal") != std::string::npos);
  CHECK(error_of([] { Reference::parse("localhost/"); }).find("repository name is empty") != std::string::npos);
  CHECK(error_of([] { Reference::parse(":tag"); }).find("repository name is empty") != std::string::npos);
  CHECK(error_of([] { Reference::parse("exa_mple.com/x"); }).find("invalid registry") != std::string::npos);
  CHECK(error_of([] { Reference::parse("docker://busybox"); }).find("invalid") != std::string::npos);
  CHECK(error_of([] { Reference::parse(std::string(256, 'a')); }).find("more than 255") != std::string::npos);
  CHECK_FALSE(Reference::try_parse("UPPER"));
  CHECK(Reference::try_parse("lower"));
}

TEST_CASE("reference: local names land in localhost/") {
  CHECK(Reference::parse_local("app").str() == "localhost/app:latest");
  CHECK(Reference::parse_local("user/app:v1").str() == "localhost/user/app:v1");
  CHECK(Reference::parse_local("quay.io/a/b").str() == "quay.io/a/b:latest");
  CHECK(Reference::parse_local("docker.io/busybox").str() == "docker.io/library/busybox:latest");
  CHECK_FALSE(Reference::parse_local("app").explicit_registry);
}

TEST_CASE("reference: with_tag and with_digest") {
  auto r = Reference::parse("quay.io/a/b:1@" + kDigestA);
  CHECK(r.with_tag("2").str() == "quay.io/a/b:2");
  CHECK(r.with_digest(util::Digest::parse(kDigestB)).str() == "quay.io/a/b@" + kDigestB);
  CHECK_THROWS_AS(r.with_tag("bad tag"), Error);
  CHECK(Reference::parse("a") == Reference::parse("docker.io/library/a:latest").with_tag("latest"));
}

TEST_CASE("reference: short-name candidates through search registries") {
  auto c = resolve_candidates("busybox", {});
  REQUIRE(c.size() == 1);
  CHECK(c[0].str() == "docker.io/library/busybox:latest");

  c = resolve_candidates("busybox:1", {"docker.io", "quay.io", "registry.fedoraproject.org"});
  REQUIRE(c.size() == 3);
  CHECK(c[0].str() == "docker.io/library/busybox:1");
  CHECK(c[1].str() == "quay.io/busybox:1");
  CHECK(c[2].str() == "registry.fedoraproject.org/busybox:1");

  c = resolve_candidates("user/app", {"quay.io", "docker.io"});
  REQUIRE(c.size() == 2);
  CHECK(c[0].str() == "quay.io/user/app:latest");
  CHECK(c[1].str() == "docker.io/user/app:latest");

  c = resolve_candidates("localhost:5000/app", {"quay.io"});
  REQUIRE(c.size() == 1);
  CHECK(c[0].str() == "localhost:5000/app:latest");

  c = resolve_candidates("x", {"docker.io", "index.docker.io"});  // duplicates collapse
  CHECK(c.size() == 1);
  CHECK_THROWS_AS(resolve_candidates("X", {"quay.io"}), Error);
}

TEST_CASE("reference: image ids and id prefixes") {
  CHECK(looks_like_id("abc123"));
  CHECK(looks_like_id(kHexA));
  CHECK(looks_like_id("sha256:" + kHexA));
  CHECK(looks_like_id("sha256:ab"));
  CHECK_FALSE(looks_like_id(""));
  CHECK_FALSE(looks_like_id("sha256:"));
  CHECK_FALSE(looks_like_id(kHexA + "a"));
  CHECK_FALSE(looks_like_id("busybox"));
  CHECK_FALSE(looks_like_id("ABC"));
  CHECK(id_prefix("sha256:abc") == "abc");
  CHECK(id_prefix("abc") == "abc");
  CHECK_FALSE(id_prefix("xyz"));
}

// --- media types ---

TEST_CASE("media types classify") {
  using namespace media_type;
  CHECK(is_manifest(kOciManifest));
  CHECK(is_manifest(kDockerManifest));
  CHECK_FALSE(is_manifest(kOciIndex));
  CHECK(is_index(kDockerManifestList));
  CHECK(is_schema1(kDockerSchema1Signed));
  CHECK(is_config(kDockerConfig));
  CHECK(is_layer(kOciLayerZstd));
  CHECK(is_layer(kDockerLayerGzip));
  CHECK_FALSE(is_layer(kOciConfig));
  CHECK(is_nondistributable(kDockerLayerForeignGzip));
  CHECK(layer_compression(kDockerLayerGzip) == Compression::gzip);
  CHECK(layer_compression(kOciLayerGzip) == Compression::gzip);
  CHECK(layer_compression(kOciLayerZstd) == Compression::zstd);
  CHECK(layer_compression(kOciLayer) == Compression::none);
  CHECK(layer_type(Compression::gzip, true) == kDockerLayerGzip);
  CHECK(layer_type(Compression::gzip) == kOciLayerGzip);
  CHECK(layer_type(Compression::zstd, true) == kOciLayerZstd);
}

// --- platforms ---

TEST_CASE("platform: names from uname and --platform") {
  CHECK(platform_from_machine("x86_64").str() == "linux/amd64");
  CHECK(platform_from_machine("aarch64").str() == "linux/arm64");
  CHECK(platform_from_machine("armv7l").str() == "linux/arm/v7");
  CHECK(platform_from_machine("armv6l").str() == "linux/arm/v6");
  CHECK(platform_from_machine("armv5tejl").str() == "linux/arm/v5");
  CHECK(platform_from_machine("i686").str() == "linux/386");
  CHECK(platform_from_machine("ppc64le").str() == "linux/ppc64le");
  CHECK(platform_from_machine("s390x").str() == "linux/s390x");
  CHECK(Platform::parse("linux/arm64/v8").str() == "linux/arm64");
  CHECK(Platform::parse("linux/arm").str() == "linux/arm/v7");
  CHECK(Platform::parse("amd64").str() == "linux/amd64");
  CHECK(Platform::parse("Linux/X86_64").str() == "linux/amd64");
  CHECK_THROWS_AS(Platform::parse("linux//v7"), Error);
  CHECK_THROWS_AS(Platform::parse("a/b/c/d"), Error);
  Platform host = host_platform();
  CHECK(host.os == "linux");
  CHECK_FALSE(host.architecture.empty());
}

TEST_CASE("platform: ranking") {
  Platform arm7 = Platform::parse("linux/arm/v7");
  CHECK(platform_rank(arm7, Platform::parse("linux/arm/v7")) == 0);
  CHECK(platform_rank(arm7, Platform::parse("linux/arm/v6")) == 2);
  CHECK(platform_rank(arm7, Platform::parse("linux/arm/v5")) == 3);
  CHECK_FALSE(platform_rank(Platform::parse("linux/arm/v6"), arm7));
  CHECK_FALSE(platform_rank(arm7, Platform::parse("linux/arm64")));
  CHECK(platform_rank(Platform::parse("linux/arm64"), Platform{"arm64", "linux", "v8"}) == 0);
  CHECK(platform_rank(Platform::parse("linux/amd64"), Platform{"amd64", "linux", "v1"}) == 0);
  CHECK_FALSE(platform_rank(Platform::parse("linux/amd64"), Platform{"amd64", "linux", "v3"}));
  CHECK(platform_rank(Platform{"amd64", "linux", "v3"}, Platform{"amd64", "linux", ""}) == 3);
  CHECK_FALSE(platform_rank(Platform::parse("linux/amd64"), Platform{"amd64", "windows", ""}));
  CHECK_FALSE(platform_rank(Platform::parse("linux/amd64"), Platform{"unknown", "unknown", ""}));
}

// --- manifests ---

namespace {

const std::string kOciManifestText =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
    R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + kDigestA +
    R"(","size":123},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
    kDigestB + R"(","size":456,"annotations":{"a":"b"}}],"annotations":{"org.opencontainers.image.created":"x"}})";

const std::string kDockerManifestText =
    R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
    R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":")" + kDigestA +
    R"("},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":9,"digest":")" +
    kDigestB + R"("}]})";

std::string index_entry(std::string_view arch, std::string_view variant, char hex) {
  std::string platform = fmt::format(R"({{"architecture":"{}","os":"linux")", arch);
  if (!variant.empty()) platform += fmt::format(R"(,"variant":"{}")", variant);
  platform += "}";
  return fmt::format(R"({{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":1,"platform":{}}})",
                     std::string(64, hex), platform);
}

}  // namespace

TEST_CASE("manifest: OCI parse and canonical round trip") {
  Manifest m = Manifest::parse(kOciManifestText);
  CHECK(m.media_type == media_type::kOciManifest);
  CHECK(m.config.digest.str() == kDigestA);
  CHECK(m.config.size == 123);
  REQUIRE(m.layers.size() == 1);
  CHECK(m.layers[0].size == 456);
  CHECK(m.layers[0].annotations.at("a") == "b");
  CHECK(m.annotations.at("org.opencontainers.image.created") == "x");
  CHECK_FALSE(m.is_docker());
  // Our canonical form is the same text (this text is already canonical).
  CHECK(m.serialize() == kOciManifestText);
  CHECK(m.bytes() == kOciManifestText);
  CHECK(m.digest() == util::sha256_of(kOciManifestText));
}

TEST_CASE("manifest: Docker v2s2 keeps Go's descriptor field order") {
  Manifest m = Manifest::parse(kDockerManifestText);
  CHECK(m.is_docker());
  CHECK(m.serialize() == kDockerManifestText);
}

TEST_CASE("manifest: unchanged manifests keep their bytes, changed ones are canonical") {
  std::string pretty = "{\n   \"schemaVersion\": 2,\n  \"unknownField\": {\"x\": [1, 2]},\n" +
                       kOciManifestText.substr(kOciManifestText.find("\"mediaType\""));
  Manifest m = Manifest::parse(pretty);
  CHECK(m.bytes() == pretty);
  CHECK(m.digest() == util::sha256_of(pretty));
  // Canonical form keeps the unknown field, after the known ones.
  std::string canonical = m.serialize();
  CHECK(canonical.find(R"("unknownField":{"x":[1,2]})") != std::string::npos);
  CHECK(canonical.find("\"annotations\"") < canonical.find("unknownField"));
  m.layers.pop_back();
  CHECK(m.bytes() == m.serialize());
  CHECK(m.bytes().find(R"("layers":[])") != std::string::npos);
  // A manifest built here has no raw text.
  Manifest built;
  built.media_type = media_type::kOciManifest;
  built.config = m.config;
  CHECK(built.bytes() == built.serialize());
  CHECK(Manifest::parse(built.bytes()).config == m.config);
}

TEST_CASE("manifest: Go-style escaping") {
  OrderedJson j = OrderedJson::object();
  j["a"] = "<b>&\u2028";
  CHECK(go_json(j) == R"({"a":"\u003cb\u003e\u0026\u2028"})");
}

TEST_CASE("manifest: errors name the field") {
  CHECK(error_of([] { Manifest::parse("{"); }).starts_with("manifest: invalid JSON"));
  CHECK(error_of([] { Manifest::parse("[]"); }) == "manifest must be a JSON object");
  CHECK(error_of([] { Manifest::parse(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})"); }) ==
        "manifest: missing field \"config\"");
  std::string bad_digest = kOciManifestText;
  bad_digest.replace(bad_digest.find(kDigestB), 10, "sha256:xyz");
  CHECK(error_of([&] { Manifest::parse(bad_digest); }).starts_with("manifest layers[0]: field \"digest\" is not a valid digest"));
  std::string bad_size = kDockerManifestText;
  bad_size.replace(bad_size.find("\"size\":9"), 8, "\"size\":\"9\"");
  CHECK(error_of([&] { Manifest::parse(bad_size); }) == "manifest layers[0]: field \"size\" must be an integer");
  std::string no_media = kDockerManifestText;
  const std::string layer_type = R"("mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip",)";
  no_media.erase(no_media.find(layer_type), layer_type.size());
  CHECK(error_of([&] { Manifest::parse(no_media); }) == "manifest layers[0]: missing field \"mediaType\"");
  CHECK(error_of([] { Manifest::parse(R"({"schemaVersion":3,"config":{}})"); }) ==
        "manifest: unsupported schemaVersion 3 (expected 2)");
  CHECK(error_of([] { Manifest::parse(R"({"mediaType":"text/plain"})"); }) ==
        "unsupported manifest type \"text/plain\"");
}

TEST_CASE("manifest: schema 1 is refused clearly") {
  std::string signed1 = R"({"schemaVersion":1,"name":"a","tag":"b","fsLayers":[],"signatures":[{}]})";
  std::string unsigned1 = R"({"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]})";
  CHECK(detect_manifest_type(signed1) == media_type::kDockerSchema1Signed);
  CHECK(detect_manifest_type(unsigned1) == media_type::kDockerSchema1);
  CHECK(manifest_kind(detect_manifest_type(signed1)) == ManifestKind::docker_schema1);
  CHECK(error_of([&] { Manifest::parse(signed1); }).starts_with("schema 1 manifests are not supported"));
  CHECK(error_of([&] { Index::parse(unsigned1); }).starts_with("schema 1 manifests are not supported"));
  CHECK_THROWS_AS(refuse_schema1(ManifestKind::docker_schema1), Error);
  CHECK_NOTHROW(refuse_schema1(ManifestKind::oci_manifest));
}

TEST_CASE("manifest: detection by mediaType, shape and content type") {
  CHECK(detect_manifest_type(kOciManifestText) == media_type::kOciManifest);
  CHECK(detect_manifest_type(kDockerManifestText) == media_type::kDockerManifest);
  CHECK(detect_manifest_type(R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json"}})") ==
        media_type::kOciManifest);
  CHECK(detect_manifest_type(R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json"}})") ==
        media_type::kDockerManifest);
  CHECK(detect_manifest_type(R"({"schemaVersion":2,"manifests":[]})") == media_type::kOciIndex);
  CHECK(detect_manifest_type(R"({"schemaVersion":2})", media_type::kOciIndex) == media_type::kOciIndex);
  CHECK_THROWS_AS(detect_manifest_type(R"({"schemaVersion":2})"), Error);
  CHECK(manifest_kind(media_type::kDockerManifestList) == ManifestKind::docker_list);
  // An OCI manifest without mediaType parses and stays without it.
  std::string bare = kOciManifestText;
  const std::string manifest_type = R"("mediaType":"application/vnd.oci.image.manifest.v1+json",)";
  bare.erase(bare.find(manifest_type), manifest_type.size());
  Manifest m = Manifest::parse(bare);
  CHECK(m.media_type.empty());
  CHECK(m.serialize() == bare);
  CHECK(error_of([] { Manifest::parse(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})"); })
            .starts_with("manifest: expected an image manifest, got an index"));
}

TEST_CASE("index: parse, round trip and platform choice") {
  std::string text = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" +
                     index_entry("amd64", "", '1') + "," + index_entry("arm", "v6", '2') + "," +
                     index_entry("arm", "v7", '3') + "," + index_entry("arm64", "v8", '4') + "," +
                     index_entry("unknown", "", '5') + "]}";
  Index index = Index::parse(text);
  REQUIRE(index.manifests.size() == 5);
  CHECK(index.serialize() == text);
  CHECK(index.bytes() == text);
  CHECK(index.choose(Platform::parse("linux/amd64")).digest.hex() == std::string(64, '1'));
  CHECK(index.choose(Platform::parse("linux/arm/v7")).digest.hex() == std::string(64, '3'));
  CHECK(index.choose(Platform::parse("linux/arm/v6")).digest.hex() == std::string(64, '2'));
  CHECK(index.choose(Platform::parse("linux/arm64")).digest.hex() == std::string(64, '4'));
  CHECK(index.find_platform(Platform::parse("linux/arm/v5")) == nullptr);
  CHECK(error_of([&] { index.choose(Platform::parse("linux/s390x")); }, ErrorKind::not_found) ==
        "no image found in manifest list for architecture \"s390x\", variant \"\", OS \"linux\"");
  // arm/v8 CPU without a v8 entry takes v7.
  Index arm_only = Index::parse(R"({"schemaVersion":2,"manifests":[)" + index_entry("arm", "v6", '2') + "," +
                                index_entry("arm", "v7", '3') + "]}");
  CHECK(arm_only.choose(Platform{"arm", "linux", "v8"}).digest.hex() == std::string(64, '3'));

  Index docker = Index::parse(
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":5,"digest":")" +
      kDigestA + R"(","platform":{"architecture":"amd64","os":"linux","os.features":["x"]}}]})");
  CHECK(docker.manifests[0].platform->os_features == std::vector<std::string>{"x"});
  CHECK(docker.serialize().find(R"("size":5,"digest")") != std::string::npos);
  CHECK(error_of([] { Index::parse(R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:)" +
                                   std::string(64, 'a') + R"(","size":1,"platform":{"os":"linux"}}]})"); }) ==
        "manifest list manifests[0] platform: missing field \"architecture\"");
  CHECK(error_of([&] { Index::parse(kOciManifestText); }).starts_with("manifest list: expected an index"));
}

// --- configs ---

namespace {

const std::string kDockerConfigText =
    R"({"architecture":"amd64","config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,)"
    R"("Env":["PATH=/usr/bin"],"Cmd":["sh"],"Image":"sha256:abc","Volumes":null,"WorkingDir":"",)"
    R"("Entrypoint":null,"OnBuild":null,"Labels":{}},"container":"deadbeef",)"
    R"("container_config":{"Cmd":["/bin/sh","-c","#(nop) CMD [\"sh\"]"]},"created":"2023-05-19T20:19:25.123Z",)"
    R"("docker_version":"20.10.23","history":[{"created":"2023-05-19T20:19:24Z","created_by":"/bin/sh -c #(nop) ADD file:x in / "},)"
    R"({"created":"2023-05-19T20:19:25Z","created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true}],)"
    R"("os":"linux","rootfs":{"type":"layers","diff_ids":[")" + std::string("sha256:") + std::string(64, 'c') + R"("]}})";

}  // namespace

TEST_CASE("config: parse a Docker config") {
  ImageConfig c = ImageConfig::parse(kDockerConfigText);
  CHECK(c.architecture == "amd64");
  CHECK(c.os == "linux");
  CHECK(c.created == "2023-05-19T20:19:25.123Z");
  CHECK(c.created_time().has_value());
  CHECK(c.config.env == std::vector<std::string>{"PATH=/usr/bin"});
  CHECK(c.config.cmd == std::vector<std::string>{"sh"});
  CHECK(c.config.entrypoint.empty());
  CHECK(c.config.labels.empty());
  REQUIRE(c.diff_ids.size() == 1);
  CHECK(c.diff_ids[0].hex() == std::string(64, 'c'));
  REQUIRE(c.history.size() == 2);
  CHECK(c.history[1].empty_layer);
  CHECK_FALSE(c.history[0].empty_layer);
  REQUIRE(c.original_field("docker_version"));
  CHECK(*c.original_field("docker_version") == "20.10.23");
  CHECK(c.original_field("nope") == nullptr);
}

TEST_CASE("config: unchanged configs keep their exact bytes (the image id)") {
  std::string pretty = "{\n  \"os\": \"linux\", \"architecture\": \"arm64\",  \"zzz\": 1 }";
  ImageConfig c = ImageConfig::parse(pretty);
  CHECK(c.bytes() == pretty);
  CHECK(c.digest() == util::sha256_of(pretty));
  ImageConfig d = ImageConfig::parse(kDockerConfigText);
  CHECK(d.bytes() == kDockerConfigText);
  // Re-serializing an unchanged config keeps every field and its order and nulls.
  CHECK(d.serialize() == kDockerConfigText);
}

TEST_CASE("config: changes overlay the original and keep unknown fields") {
  ImageConfig c = ImageConfig::parse(kDockerConfigText);
  c.config.set_env("FOO", "bar");
  c.config.entrypoint = {"/entry"};
  c.config.cmd.clear();
  std::string out = c.bytes();
  CHECK(out != kDockerConfigText);
  Json j = Json::parse(out);
  CHECK(j["docker_version"] == "20.10.23");
  CHECK(j["container"] == "deadbeef");
  CHECK(j["config"]["Hostname"] == "");
  CHECK(j["config"]["Image"] == "sha256:abc");
  CHECK(j["config"]["Volumes"].is_null());
  CHECK(j["config"]["Env"] == Json::array({"PATH=/usr/bin", "FOO=bar"}));
  CHECK(j["config"]["Entrypoint"] == Json::array({"/entry"}));
  CHECK_FALSE(j["config"].contains("Cmd"));
  // Field order of the original is kept where fields existed.
  CHECK(out.starts_with(R"({"architecture":"amd64","config":{"Hostname":"")"));
  ImageConfig again = ImageConfig::parse(out);
  CHECK(again.config.entrypoint == std::vector<std::string>{"/entry"});
  CHECK(again.bytes() == out);
}

TEST_CASE("config: a new config serializes deterministically in Go's order") {
  ImageConfig c;
  c.created = "2024-01-02T03:04:05Z";
  c.architecture = "amd64";
  c.os = "linux";
  c.config.env = {"PATH=/bin"};
  c.config.cmd = {"sh"};
  c.config.exposed_ports = {"80/tcp", "443/tcp"};
  c.config.labels = {{"b", "2"}, {"a", "1"}};
  c.diff_ids = {util::Digest::parse(kDigestA)};
  c.history = {{"2024-01-02T03:04:05Z", "kiln import", "", "", false}};
  const std::string expected =
      R"({"created":"2024-01-02T03:04:05Z","architecture":"amd64","os":"linux","config":{"ExposedPorts":{"443/tcp":{},"80/tcp":{}},)"
      R"("Env":["PATH=/bin"],"Cmd":["sh"],"Labels":{"a":"1","b":"2"}},"rootfs":{"type":"layers","diff_ids":[")" +
      kDigestA + R"("]},"history":[{"created":"2024-01-02T03:04:05Z","created_by":"kiln import"}]})";
  CHECK(c.bytes() == expected);
  CHECK(c.serialize() == expected);
  ImageConfig round = ImageConfig::parse(expected);
  CHECK(round.bytes() == expected);
  CHECK(round.config == c.config);
  CHECK(round.history == c.history);
  // fresh() forgets unknown fields of a parsed config.
  ImageConfig f = ImageConfig::parse(kDockerConfigText).fresh();
  CHECK(f.bytes().find("docker_version") == std::string::npos);
  CHECK(f.bytes().find("Hostname") == std::string::npos);
  ImageConfig empty;
  CHECK(empty.bytes() == R"({"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}})");
}

TEST_CASE("config: healthcheck, shell, onbuild") {
  std::string text =
      R"({"architecture":"amd64","os":"linux","config":{"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Retries":3},)"
      R"("OnBuild":["RUN x"],"Shell":["/bin/bash","-c"],"ArgsEscaped":true,"StopSignal":"SIGINT"},"rootfs":{"type":"layers","diff_ids":[]}})";
  ImageConfig c = ImageConfig::parse(text);
  REQUIRE(c.config.healthcheck);
  CHECK(c.config.healthcheck->interval == 30000000000);
  CHECK(c.config.healthcheck->retries == 3);
  CHECK(c.config.on_build == std::vector<std::string>{"RUN x"});
  CHECK(c.config.args_escaped);
  CHECK(c.config.stop_signal == "SIGINT");
  CHECK(c.fresh().bytes() ==
        R"({"architecture":"amd64","os":"linux","config":{"StopSignal":"SIGINT","ArgsEscaped":true,"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Retries":3},)"
        R"("OnBuild":["RUN x"],"Shell":["/bin/bash","-c"]},"rootfs":{"type":"layers","diff_ids":[]}})");
}

TEST_CASE("config: errors name the field") {
  CHECK(error_of([] { ImageConfig::parse("nope"); }).starts_with("image config: invalid JSON"));
  CHECK(error_of([] { ImageConfig::parse("1"); }) == "image config must be a JSON object");
  CHECK(error_of([] { ImageConfig::parse(R"({"config":{"Env":"A=b"}})"); }) ==
        "image config: config: field \"Env\" must be an array of strings");
  CHECK(error_of([] { ImageConfig::parse(R"({"config":{"Labels":{"a":1}}})"); }) ==
        "image config: config: field \"Labels\" must be an object of strings");
  CHECK(error_of([] { ImageConfig::parse(R"({"rootfs":{"type":"layers","diff_ids":["x"]}})"); }) ==
        "image config: rootfs: invalid diff id \"x\"");
  CHECK(error_of([] { ImageConfig::parse(R"({"history":[{"empty_layer":"yes"}]})"); }) ==
        "image config: history[0]: field \"empty_layer\" must be a boolean");
  CHECK(error_of([] { ImageConfig::parse(R"({"os":5})"); }) == "image config: field \"os\" must be a string");
}

TEST_CASE("config: env helpers") {
  RunConfig c;
  c.env = {"A=1", "B", "C=x=y"};
  CHECK(c.env_value("A") == "1");
  CHECK(c.env_value("B") == "");
  CHECK(c.env_value("C") == "x=y");
  CHECK_FALSE(c.env_value("D"));
  CHECK_FALSE(c.env_value("AA"));
  c.set_env("A", "2");
  c.set_env("D", "4");
  CHECK(c.env == std::vector<std::string>{"A=2", "B", "C=x=y", "D=4"});
}

// --- --change ---

TEST_CASE("change: CMD and ENTRYPOINT forms") {
  RunConfig c;
  apply_changes(c, {R"(CMD ["sh", "-c", "echo hi"])"});
  CHECK(c.cmd == std::vector<std::string>{"sh", "-c", "echo hi"});
  apply_changes(c, {"CMD sh -c 'x y'"});
  CHECK(c.cmd == std::vector<std::string>{"/bin/sh", "-c", "sh -c 'x y'"});
  apply_changes(c, {"cmd=/bin/true"});
  CHECK(c.cmd == std::vector<std::string>{"/bin/sh", "-c", "/bin/true"});
  apply_changes(c, {"CMD []"});
  CHECK(c.cmd.empty());
  c.shell = {"/bin/bash", "-lc"};
  apply_changes(c, {"ENTRYPOINT run me", "CMD [\"x\"]"});
  CHECK(c.entrypoint == std::vector<std::string>{"/bin/bash", "-lc", "run me"});
  CHECK(c.cmd == std::vector<std::string>{"x"});
  // Not a JSON array of strings: shell form.
  apply_changes(c, {"CMD [1, 2]"});
  CHECK(c.cmd == std::vector<std::string>{"/bin/bash", "-lc", "[1, 2]"});
  Change parsed = parse_change("  entrypoint [\"/a\"]  ");
  CHECK(parsed.instruction == "ENTRYPOINT");
  CHECK(parsed.json_form);
}

TEST_CASE("change: ENV and LABEL") {
  RunConfig c;
  c.env = {"A=old"};
  apply_changes(c, {"ENV A=b C=d", R"(ENV E="with space" F=x\ y)", "ENV G the rest  of it", "ENV H="});
  CHECK(c.env == std::vector<std::string>{"A=b", "C=d", "E=with space", "F=x y", "G=the rest of it", "H="});
  apply_changes(c, {R"(LABEL a=b "c d"=e)", "LABEL version 1.0"});
  CHECK(c.labels == std::map<std::string, std::string>{{"a", "b"}, {"c d", "e"}, {"version", "1.0"}});
  CHECK(parse_change("ENV A=b C=d").args == std::vector<std::string>{"A", "b", "C", "d"});
  CHECK(error_of([] { parse_change("ENV A"); }) == "invalid change \"ENV A\": ENV A requires a value");
  CHECK(error_of([] { parse_change("ENV =x"); }) == "invalid change \"ENV =x\": ENV names can not be blank");
  CHECK(error_of([] { parse_change("ENV A=b C"); }) == "invalid change \"ENV A=b C\": ENV expects KEY=value, got \"C\"");
  CHECK(error_of([] { parse_change("LABEL \"a=b"); }).find("unterminated double quote") != std::string::npos);
}

TEST_CASE("change: EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL, ONBUILD") {
  RunConfig c;
  apply_changes(c, {"EXPOSE 80 53/udp 8000-8002/TCP", "VOLUME /data /cache", R"(VOLUME ["/v w"])",
                    "WORKDIR /srv", "WORKDIR app", "USER 1000:1000", "STOPSIGNAL SIGQUIT", "ONBUILD RUN make"});
  CHECK(c.exposed_ports == std::set<std::string>{"80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"});
  CHECK(c.volumes == std::set<std::string>{"/data", "/cache", "/v w"});
  CHECK(c.working_dir == "/srv/app");
  CHECK(c.user == "1000:1000");
  CHECK(c.stop_signal == "SIGQUIT");
  CHECK(c.on_build == std::vector<std::string>{"RUN make"});
  CHECK(error_of([] { parse_change("EXPOSE 70000"); }) == "invalid change \"EXPOSE 70000\": invalid port \"70000\"");
  CHECK(error_of([] { parse_change("EXPOSE 80/icmp"); }).find("invalid protocol \"icmp\"") != std::string::npos);
  CHECK(error_of([] { parse_change("EXPOSE 90-80"); }).find("invalid port range") != std::string::npos);
  CHECK(error_of([] { parse_change("USER a b"); }).find("USER requires exactly one argument") != std::string::npos);
  CHECK(error_of([] { parse_change("ONBUILD ONBUILD RUN x"); }).find("chaining ONBUILD") != std::string::npos);
  CHECK(error_of([] { parse_change("ONBUILD from x"); }).find("FROM is not allowed") != std::string::npos);
}

TEST_CASE("change: unknown and disallowed instructions") {
  CHECK(error_of([] { parse_change("FOO bar"); }) == "invalid change \"FOO bar\": unknown instruction \"FOO\"");
  CHECK(error_of([] { parse_change("RUN make"); })
            .starts_with("invalid change \"RUN make\": instruction \"RUN\" is not allowed here (allowed: CMD,"));
  CHECK(error_of([] { parse_change(""); }) == "invalid change \"\": empty instruction");
  CHECK(error_of([] { parse_change("CMD"); }) == "invalid change \"CMD\": CMD requires an argument");
  CHECK(error_of([] { parse_change("WORKDIR   "); }) == "invalid change \"WORKDIR   \": WORKDIR requires an argument");
}

TEST_CASE("change: word splitting") {
  CHECK(split_words(R"(a "b c" 'd e' f\ g "h\"i" 'j\k')") ==
        std::vector<std::string>{"a", "b c", "d e", "f g", "h\"i", "j\\k"});
  CHECK(split_words("  ").empty());
  CHECK(split_words(R"("")") == std::vector<std::string>{""});
  CHECK_THROWS_AS(split_words("'open"), Error);
}

// --- inspect ---

TEST_CASE("inspect: podman-style object") {
  ImageConfig c = ImageConfig::parse(kDockerConfigText);
  Manifest m = Manifest::parse(kDockerManifestText);
  InspectFacts facts;
  facts.id = util::sha256_of(kDockerConfigText);
  facts.digest = m.digest();
  facts.digests = {util::Digest::parse(kDigestB)};
  facts.names = {"docker.io/library/busybox:latest", "quay.io/a/b:1", "quay.io/a/b:2",
                 "localhost/x@" + kDigestA, "not a name"};
  facts.size = 4242;
  facts.graph_driver = "overlay";
  facts.graph_driver_data = {{"UpperDir", "/u"}};
  OrderedJson j = inspect_json(facts, c, &m);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"Id", "Digest", "RepoTags", "RepoDigests", "Parent", "Comment", "Created",
                                         "Config", "Version", "Author", "Architecture", "Os", "Size", "VirtualSize",
                                         "GraphDriver", "RootFS", "Labels", "Annotations", "ManifestType", "User",
                                         "History", "NamesHistory"});
  CHECK(j["Id"] == std::string(facts.id.hex()));
  CHECK(j["Digest"] == m.digest().str());
  CHECK(j["RepoTags"] == OrderedJson::array({"docker.io/library/busybox:latest", "quay.io/a/b:1", "quay.io/a/b:2"}));
  const std::string md = m.digest().str();
  CHECK(j["RepoDigests"] == OrderedJson::array({"docker.io/library/busybox@" + md, "docker.io/library/busybox@" + kDigestB,
                                                "quay.io/a/b@" + md, "quay.io/a/b@" + kDigestB, "localhost/x@" + kDigestA,
                                                "localhost/x@" + md, "localhost/x@" + kDigestB}));
  CHECK(j["Version"] == "20.10.23");
  CHECK(j["Created"] == "2023-05-19T20:19:25.123Z");
  CHECK(j["Config"]["Cmd"] == OrderedJson::array({"sh"}));
  CHECK(j["RootFS"]["Layers"].size() == 1);
  CHECK(j["Labels"].is_null());
  CHECK(j["ManifestType"] == media_type::kDockerManifest);
  CHECK(j["History"].size() == 2);
  CHECK(j["History"][1]["empty_layer"] == true);
  CHECK(j["Size"] == 4242);
  CHECK(j["GraphDriver"]["Data"]["UpperDir"] == "/u");

  ImageConfig bare;
  OrderedJson k = inspect_json(InspectFacts{}, bare, nullptr);
  CHECK(k["Created"] == "0001-01-01T00:00:00Z");
  CHECK(k["Annotations"] == OrderedJson::object());
  CHECK(k["RepoTags"] == OrderedJson::array());
}
