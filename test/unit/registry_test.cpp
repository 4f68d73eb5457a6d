// registry: challenge parsing, base64, token responses, auth.json handling,
// URL and Link helpers, error mapping, the worker pool; and (suite "registry")
// the client against a real docker-registry started through
// test/system/registry.bash: blob upload (monolithic, chunked, mounted),
// verified downloads, tampering, manifests, tags, catalog, Basic, Bearer, TLS.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "archive/import.hpp"
#include "registry/auth.hpp"
#include "registry/auth_file.hpp"
#include "registry/client.hpp"
#include "registry/http.hpp"
#include "registry/progress.hpp"
#include "registry/pull.hpp"
#include "registry/push.hpp"
#include "registry/recompress.hpp"
#include "registry/worker_pool.hpp"
#include "layer/create.hpp"
#include "store/store.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

using namespace kiln;
using namespace kiln::registry;
namespace fs = std::filesystem;

namespace {

// Sets environment variables for a scope and restores the old values.
class ScopedEnv {
public:
  void set(const char* name, const std::string& value) {
    save(name);
    ::setenv(name, value.c_str(), 1);
  }
  void unset(const char* name) {
    save(name);
    ::unsetenv(name);
  }
  ~ScopedEnv() {
    for (auto& [name, value] : saved_) {
      if (value) ::setenv(name.c_str(), value->c_str(), 1);
      else ::unsetenv(name.c_str());
    }
  }

private:
  void save(const char* name) {
    if (saved_.count(name)) return;
    const char* old = std::getenv(name);
    saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

std::string message_of(const std::function<void()>& fn, ErrorKind* kind = nullptr) {
  try {
    fn();
  } catch (const std::exception& e) {
    if (kind) *kind = util::kind_of(e);
    return util::describe(e);
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("WWW-Authenticate challenges parse as the grammar says") {
  auto c = parse_challenges(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  REQUIRE(c.size() == 1);
  CHECK(c[0].scheme == "bearer");
  CHECK(c[0].param("realm") == "https://auth.docker.io/token");
  CHECK(c[0].param("service") == "registry.docker.io");
  CHECK(c[0].param("scope") == "repository:library/busybox:pull");
  CHECK(c[0].param("error").empty());

  c = parse_challenges(R"(Basic realm="Registry Realm")");
  REQUIRE(c.size() == 1);
  CHECK(c[0].scheme == "basic");
  CHECK(c[0].param("realm") == "Registry Realm");

  // Two challenges, spaces around '=' and ',', a token value, an escaped quote, mixed case.
  c = parse_challenges(R"(Basic realm="a, \"b\"" , BEARER Realm = "http://t/token", service=svc,error="invalid_token")");
  REQUIRE(c.size() == 2);
  CHECK(c[0].param("realm") == R"(a, "b")");
  CHECK(c[1].scheme == "bearer");
  CHECK(c[1].param("realm") == "http://t/token");
  CHECK(c[1].param("service") == "svc");
  CHECK(c[1].param("error") == "invalid_token");

  CHECK(parse_challenges("").empty());
  c = parse_challenges("Negotiate");
  REQUIRE(c.size() == 1);
  CHECK(c[0].params.empty());
}

TEST_CASE("base64 and Basic authorization") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_decode("Zm9vYg==") == "foob");
  CHECK(base64_decode("Zm9vYg") == "foob");
  std::string binary("\x00\xff\x10:x", 5);
  CHECK(base64_decode(base64_encode(binary)) == binary);
  CHECK_THROWS_AS(base64_decode("a*b"), Error);
  CHECK(basic_authorization({"user", "pa:ss"}) == "Basic " + base64_encode("user:pa:ss"));
  CHECK(repository_scope("a/b", "pull,push") == "repository:a/b:pull,push");
}

TEST_CASE("token responses: token or access_token, expires_in with the 60 s floor") {
  auto now = std::chrono::steady_clock::now();
  Token t = parse_token_response(R"({"token":"abc","expires_in":300})", now);
  CHECK(t.value == "abc");
  CHECK(t.expires > now + std::chrono::seconds(200));
  t = parse_token_response(R"({"access_token":"xyz"})", now);
  CHECK(t.value == "xyz");
  CHECK(t.expires > now);
  CHECK(t.expires <= now + std::chrono::seconds(60));
  t = parse_token_response(R"({"token":"a","expires_in":5})", now);
  CHECK(t.expires > now);
  ErrorKind kind{};
  CHECK(message_of([] { parse_token_response("{}"); }, &kind) == "token response has no token");
  CHECK(kind == ErrorKind::unauthorized);
  CHECK_THROWS_AS(parse_token_response("not json"), Error);
}

TEST_CASE("auth file: default paths follow podman") {
  ScopedEnv env;
  env.unset("REGISTRY_AUTH_FILE");
  env.set("XDG_RUNTIME_DIR", "/run/user/1000");
  env.set("HOME", "/home/u");
  env.unset("XDG_CONFIG_HOME");
  CHECK(auth_file_path() == "/run/user/1000/containers/auth.json");
  CHECK(auth_file_path("/x/auth.json") == "/x/auth.json");
  auto paths = auth_file_read_paths();
  REQUIRE(paths.size() == 3);
  CHECK(paths[1] == "/home/u/.config/containers/auth.json");
  CHECK(paths[2] == "/home/u/.docker/config.json");
  CHECK(auth_file_read_paths("/x/a.json") == std::vector<fs::path>{"/x/a.json"});
  env.set("REGISTRY_AUTH_FILE", "/etc/a.json");
  CHECK(auth_file_path() == "/etc/a.json");
  env.unset("REGISTRY_AUTH_FILE");
  env.unset("XDG_RUNTIME_DIR");
  CHECK(auth_file_path() == "/home/u/.config/containers/auth.json");
}

TEST_CASE("auth file: store keeps other entries and fields, 0600 in a 0700 dir") {
  util::TempDir tmp(fs::temp_directory_path(), "kiln-auth-");
  fs::path file = tmp.path() / "new/containers/auth.json";
  store_credentials(file, "localhost:5000", {"alice", "s3cret"});
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(file.parent_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  auto creds = read_credentials(file, "localhost:5000");
  REQUIRE(creds);
  CHECK(creds->username == "alice");
  CHECK(creds->password == "s3cret");

  // A file written by someone else: unknown fields survive a store and a remove.
  util::write_file_atomic(file, R"({"auths":{"quay.io":{"auth":")" + base64_encode("q:p") +
                                    R"(","email":"x@y"},"https://index.docker.io/v1/":{"auth":")" +
                                    base64_encode("d:old") + R"("}},"credHelpers":{"gcr.io":"gcloud"}})");
  store_credentials(file, "localhost:5000", {"bob", "pw"});
  store_credentials(file, "docker.io", {"d", "new"});
  Json j = util::parse_json(util::read_file(file), "auth.json");
  CHECK(j["credHelpers"]["gcr.io"] == "gcloud");
  CHECK(j["auths"]["quay.io"]["email"] == "x@y");
  CHECK_FALSE(j["auths"].contains("https://index.docker.io/v1/"));  // replaced by podman's key
  CHECK(read_credentials(file, "docker.io")->password == "new");
  CHECK(read_credentials(file, "quay.io")->username == "q");
  CHECK(read_credentials(file, "localhost:5000")->username == "bob");
  CHECK_FALSE(read_credentials(file, "other.io"));

  CHECK(remove_credentials(file, "quay.io"));
  CHECK_FALSE(remove_credentials(file, "quay.io"));
  CHECK_FALSE(read_credentials(file, "quay.io"));
  CHECK(read_credentials(file, "localhost:5000"));
  remove_all_credentials(file);
  j = util::parse_json(util::read_file(file), "auth.json");
  CHECK(j["auths"].empty());
  CHECK(j["credHelpers"]["gcr.io"] == "gcloud");

  util::write_file_atomic(file, "{not json");
  CHECK_THROWS_AS(read_credentials(file, "x"), Error);
  util::write_file_atomic(file, R"({"auths":{"x.io":{"auth":"bm9jb2xvbg=="}}})");  // "nocolon"
  CHECK(message_of([&] { read_credentials(file, "x.io"); }).find("auth is not user:password") != std::string::npos);
}

TEST_CASE("auth file: lookup order, namespaces, docker's config as fallback") {
  util::TempDir tmp(fs::temp_directory_path(), "kiln-auth-");
  ScopedEnv env;
  env.unset("REGISTRY_AUTH_FILE");
  env.unset("XDG_CONFIG_HOME");
  env.set("XDG_RUNTIME_DIR", (tmp.path() / "run").string());
  env.set("HOME", (tmp.path() / "home").string());
  CHECK_FALSE(lookup_credentials("quay.io"));

  util::make_dirs(tmp.path() / "home/.docker");
  util::write_file_atomic(tmp.path() / "home/.docker/config.json",
                          R"({"auths":{"https://index.docker.io/v1/":{"auth":")" + base64_encode("hub:1") +
                              R"("},"quay.io":{"auth":")" + base64_encode("dq:1") + R"("}}})");
  CHECK(lookup_credentials("docker.io")->username == "hub");
  CHECK(lookup_credentials("quay.io")->username == "dq");

  fs::path primary = tmp.path() / "run/containers/auth.json";
  store_credentials(primary, "quay.io", {"pq", "2"});
  store_credentials(primary, "quay.io/org", {"org", "3"});
  CHECK(lookup_credentials("quay.io")->username == "pq");                // primary file first
  CHECK(lookup_credentials("quay.io", "org/app")->username == "org");    // most specific key
  CHECK(lookup_credentials("quay.io", "other/app")->username == "pq");
  CHECK(lookup_credentials("docker.io", "library/busybox")->username == "hub");

  fs::path override_file = tmp.path() / "override.json";
  CHECK_FALSE(lookup_credentials("quay.io", "", override_file));  // --authfile alone
  store_credentials(override_file, "quay.io", {"ov", "4"});
  CHECK(lookup_credentials("quay.io", "", override_file)->username == "ov");
}

TEST_CASE("URL helpers and Link pagination") {
  CHECK(link_next(R"(</v2/_catalog?last=b&n=2>; rel="next")") == "/v2/_catalog?last=b&n=2");
  CHECK(link_next(R"(<http://r/v2/x?n=1>;rel=next)") == "http://r/v2/x?n=1");
  CHECK(link_next(R"(</a>; rel="prev", </b>; rel="next")") == "/b");
  CHECK_FALSE(link_next(R"(</a>; rel="prev")"));
  CHECK_FALSE(link_next(""));

  CHECK(url_origin("https://h:5000/v2/a?x=1") == "https://h:5000");
  CHECK(url_origin("http://h") == "http://h");
  CHECK(url_path("https://h:5000/v2/a/b/manifests/latest?x=1") == "/v2/a/b/manifests/latest");
  CHECK(url_path("http://h") == "/");
  CHECK(url_path("/v2/_catalog?n=2") == "/v2/_catalog");
  CHECK(resolve_url("http://h:1/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u?_state=x") ==
        "http://h:1/v2/a/blobs/uploads/u?_state=x");
  CHECK(resolve_url("http://h:1/v2/a", "https://s3/b") == "https://s3/b");
  CHECK(resolve_url("http://h/v2/a/b?q", "c") == "http://h/v2/a/c");
  CHECK(url_escape("sha256:ab/c d") == "sha256%3Aab%2Fc%20d");
}

TEST_CASE("API paths for nested repositories, tags and digests") {
  std::string digest = "sha256:" + std::string(64, 'a');
  CHECK(api_path("a/b/c", "manifests", "v1.0") == "/v2/a/b/c/manifests/v1.0");
  CHECK(api_path("library/busybox", "blobs", digest) == "/v2/library/busybox/blobs/" + digest);
  CHECK(api_path("x", "tags/list", "") == "/v2/x/tags/list");
  CHECK_THROWS_AS(api_path("A/b", "manifests", "t"), Error);
  CHECK_THROWS_AS(api_path("a//", "manifests", "t"), Error);
  CHECK_THROWS_AS(api_path("", "manifests", "t"), Error);
  CHECK_THROWS_AS(api_path("a", "manifests", "t/../x"), Error);
  CHECK(ref_digest("latest") == std::nullopt);
  CHECK(ref_digest(digest)->str() == digest);
  CHECK_THROWS_AS(ref_digest("sha256:short"), Error);
}

TEST_CASE("manifest media types; schema 1 is refused clearly") {
  std::string oci = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
  CHECK(manifest_media_type("application/vnd.oci.image.manifest.v1+json; charset=utf-8", oci) == kOciManifest);
  CHECK(manifest_media_type("", oci) == kOciManifest);
  CHECK(manifest_media_type("application/json", oci) == kOciManifest);
  CHECK(manifest_media_type(kDockerManifestList, R"({"schemaVersion":2})") == kDockerManifestList);
  CHECK(manifest_media_type("", R"({"schemaVersion":2})").empty());
  CHECK_THROWS_WITH(manifest_media_type("application/vnd.docker.distribution.manifest.v1+prettyjws", "{}"),
                    "schema 1 manifests are not supported");
  ErrorKind kind{};
  CHECK(message_of([] { manifest_media_type("application/json", R"({"schemaVersion":1,"name":"x"})"); }, &kind) ==
        "schema 1 manifests are not supported");
  CHECK(kind == ErrorKind::invalid_input);
  CHECK_THROWS_AS(manifest_media_type("", "[1]"), Error);
  CHECK_THROWS_AS(manifest_media_type("", "garbage"), Error);
}

TEST_CASE("registry errors map to one line and a kind") {
  Error e = http_error("GET", "https://r/v2/a/manifests/latest", 401,
                       R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]})");
  CHECK(std::string(e.what()) == "GET /v2/a/manifests/latest: 401 Unauthorized");
  CHECK(e.kind() == ErrorKind::unauthorized);

  e = http_error("GET", "http://r/v2/a/manifests/nope?x", 404,
                 R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]})");
  CHECK(std::string(e.what()) == "GET /v2/a/manifests/nope: 404 Not Found (MANIFEST_UNKNOWN: manifest unknown)");
  CHECK(e.kind() == ErrorKind::not_found);

  e = http_error("PUT", "/v2/a/blobs/uploads/u", 400,
                 R"({"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]})");
  CHECK(std::string(e.what()) ==
        "PUT /v2/a/blobs/uploads/u: 400 Bad Request (DIGEST_INVALID: provided digest did not match uploaded content)");
  CHECK(e.kind() == ErrorKind::generic);

  e = http_error("POST", "/v2/a/blobs/uploads/", 403, "<html>nope</html>");
  CHECK(std::string(e.what()) == "POST /v2/a/blobs/uploads/: 403 Forbidden");
  CHECK(e.kind() == ErrorKind::unauthorized);
  e = http_error("GET", "/v2/", 599, "");
  CHECK(std::string(e.what()) == "GET /v2/: 599");
}

TEST_CASE("worker pool runs every job and rethrows the first failure") {
  std::atomic<int> done{0};
  WorkerPool pool(3);
  for (int i = 0; i < 20; ++i) pool.submit([&] { ++done; });
  pool.wait();
  CHECK(done == 20);

  pool.submit([] { throw Error("job failed", ErrorKind::corrupt); });
  CHECK_THROWS_WITH_AS(pool.wait(), "job failed", Error);
  // Reusable after a failure.
  pool.submit([&] { ++done; });
  pool.wait();
  CHECK(done == 21);

  std::vector<int> items{1, 2, 3, 4, 5};
  std::atomic<int> sum{0};
  for_each_parallel(items, [&](int x) { sum += x; }, 2);
  CHECK(sum == 15);
}

// ---------------------------------------------------------------------------
// Against a real registry.

namespace {

std::string source_root() {
  if (const char* root = std::getenv("KILN_SOURCE_ROOT")) return root;
  return KILN_TEST_SOURCE_ROOT;
}

bool have_registry() {
  bool found = std::system("command -v docker-registry >/dev/null 2>&1") == 0;
  const char* require = std::getenv("KILN_REQUIRE_REGISTRY");
  if (!found && require && std::string(require) == "1")
    FAIL("docker-registry is not installed but KILN_REQUIRE_REGISTRY=1");
  if (!found) MESSAGE("docker-registry not installed: skipping");
  return found;
}

// A registry started by test/system/registry.bash's start_registry, stopped on destruction.
class LocalRegistry {
public:
  /// args for start_registry; proxy: arguments for start_blob_proxy, which then runs too.
  explicit LocalRegistry(const std::string& args, std::optional<std::string> proxy = {}) {
    std::string script = fmt::format(
        "set -e; export KILN_SOURCE_ROOT='{0}'; exec 3>&2; . '{0}/test/system/registry.bash'; "
        "start_registry {1} >&2; {2} echo \"$REGISTRY\"; echo \"$REGISTRY_PID\"; echo \"$REGISTRY_DIR\"; "
        "echo \"${{TOKEN_SERVER_PID:-}}\"; echo \"${{REGISTRY_CERT_DIR:-}}\"; "
        "echo \"${{BLOB_PROXY:-}}\"; echo \"${{BLOB_PROXY_PID:-}}\"",
        source_root(), args, proxy ? "start_blob_proxy " + *proxy + " >&2;" : "");
    std::string command = "bash -c " + quote(script);
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string output;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
    int status = ::pclose(pipe);
    REQUIRE_MESSAGE(status == 0, "start_registry " << args << " failed");
    auto lines = util::split(output, '\n');
    REQUIRE(lines.size() >= 7);
    host = lines[0];
    pids_.push_back(std::stoi(lines[1]));
    dir = lines[2];
    if (!lines[3].empty()) pids_.push_back(std::stoi(lines[3]));
    cert_dir = lines[4];
    proxy_host = lines[5];
    if (!lines[6].empty()) pids_.push_back(std::stoi(lines[6]));
  }
  ~LocalRegistry() {
    for (int pid : pids_) ::kill(pid, SIGTERM);
    // The processes are not our children (bash started them): wait until they are gone
    // or zombies (whoever inherited them may never reap them).
    for (int i = 0; i < 50; ++i) {
      bool alive = false;
      for (int pid : pids_) alive |= running(pid);
      if (!alive) break;
      ::usleep(100000);
    }
    util::remove_tree(dir);
  }
  /// The file the registry keeps a blob's bytes in.
  fs::path blob_file(const util::Digest& digest) const {
    std::string hex(digest.hex());
    return dir / "storage/docker/registry/v2/blobs/sha256" / hex.substr(0, 2) / hex / "data";
  }

  std::string host;
  fs::path dir;
  fs::path cert_dir;
  std::string proxy_host;  // the blob proxy, when started
  /// The proxy's request log.
  std::string proxy_log() const { return util::try_read_file(dir / "proxy.log").value_or(""); }

private:
  static bool running(int pid) {
    auto stat = util::try_read_file(fmt::format("/proc/{}/stat", pid));
    if (!stat) return false;
    auto paren = stat->rfind(')');
    return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
  }
  static std::string quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }
  std::vector<int> pids_;
};

// A file holding data, for uploads; and a fresh one for downloads.
struct BlobFile {
  util::TempDir tmp{fs::temp_directory_path(), "kiln-blob-"};
  util::UniqueFd fd;
  explicit BlobFile(std::string_view data) {
    fd = util::open_file(tmp.path() / "blob", O_RDWR | O_CREAT | O_TRUNC, 0600);
    util::write_all(fd, data);
  }
};

std::string random_bytes(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  unsigned x = seed * 2654435761u + 1;
  for (auto& c : out) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return out;
}

std::string download(RegistryClient& client, std::string_view repo, const util::Digest& digest,
                     std::optional<std::uint64_t> size = {}) {
  util::TempDir tmp(fs::temp_directory_path(), "kiln-get-");
  auto fd = util::open_file(tmp.path() / "out", O_RDWR | O_CREAT | O_TRUNC, 0600);
  client.get_blob(repo, digest, fd, {}, size);
  return util::read_file(tmp.path() / "out");
}

util::Digest push_blob(RegistryClient& client, std::string_view repo, std::string_view data) {
  BlobFile file(data);
  util::Digest digest = util::sha256_of(data);
  client.upload_blob(repo, digest, data.size(), file.fd);
  return digest;
}

// An OCI manifest for a config and gzip layers (digest, size), by hand (the image module
// builds real ones).
OrderedJson oci_manifest_json(const util::Digest& config, std::size_t config_size,
                              const std::vector<std::pair<util::Digest, std::uint64_t>>& layers) {
  OrderedJson j;
  j["schemaVersion"] = 2;
  j["mediaType"] = std::string(kOciManifest);
  j["config"] = {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                 {"digest", config.str()},
                 {"size", config_size}};
  j["layers"] = OrderedJson::array();
  for (const auto& [digest, size] : layers)
    j["layers"].push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                           {"digest", digest.str()},
                           {"size", size}});
  return j;
}

// The same for one layer, compact.
std::string oci_manifest(const util::Digest& config, std::size_t config_size, const util::Digest& layer,
                         std::size_t layer_size) {
  return oci_manifest_json(config, config_size, {{layer, layer_size}}).dump();
}

}  // namespace

TEST_SUITE("registry") {
  TEST_CASE("blobs: monolithic and chunked upload, HEAD, verified GET, tampering, mount") {
    if (!have_registry()) return;
    LocalRegistry reg("");
    RegistryOptions options;
    options.insecure = true;  // plain http: https fails first, http follows
    options.chunk_size = 64 * 1024;
    RegistryClient client(reg.host, options);
    client.ping();
    CHECK(client.base_url() == "http://" + reg.host);

    std::string small = "hello, registry\n";
    util::Digest small_digest = util::sha256_of(small);
    CHECK_FALSE(client.blob_exists("kiln/test", small_digest));
    {
      BlobFile file(small);
      std::uint64_t last = 0;
      auto result = client.upload_blob("kiln/test", small_digest, small.size(), file.fd,
                                       [&](std::uint64_t done, std::uint64_t) { last = done; });
      CHECK(result == UploadResult::uploaded);
      CHECK(last == small.size());
    }
    CHECK(client.blob_exists("kiln/test", small_digest) == small.size());
    CHECK(download(client, "kiln/test", small_digest, small.size()) == small);

    // Bigger than chunk_size: POST, three PATCHes, PUT.
    std::string big = random_bytes(200 * 1024 + 17, 1);
    util::Digest big_digest = util::sha256_of(big);
    {
      BlobFile file(big);
      std::vector<std::uint64_t> seen;
      client.upload_blob("kiln/test", big_digest, big.size(), file.fd,
                         [&](std::uint64_t done, std::uint64_t total) {
                           CHECK(total == big.size());
                           seen.push_back(done);
                         });
      REQUIRE_FALSE(seen.empty());
      CHECK(seen.back() == big.size());
    }
    CHECK(client.blob_exists("kiln/test", big_digest) == big.size());
    {
      util::TempDir tmp(fs::temp_directory_path(), "kiln-get-");
      auto fd = util::open_file(tmp.path() / "out", O_RDWR | O_CREAT | O_TRUNC, 0600);
      std::uint64_t progress = 0;
      client.get_blob("kiln/test", big_digest, fd, [&](std::uint64_t done, std::uint64_t) { progress = done; });
      CHECK(progress == big.size());
      CHECK(util::sha256_of_file(tmp.path() / "out") == big_digest);
    }

    // A wrong digest on upload: the registry refuses.
    {
      BlobFile file("other");
      ErrorKind kind{};
      std::string msg = message_of([&] { client.upload_blob("kiln/test", small_digest, 5, file.fd); }, &kind);
      CHECK(msg.find("PUT /v2/kiln/test/blobs/uploads/") != std::string::npos);
      CHECK(msg.find("400 Bad Request") != std::string::npos);
    }

    // Cross-repository mount: nothing is transferred.
    {
      BlobFile file(big);
      CHECK(client.upload_blob("kiln/other", big_digest, big.size(), file.fd, {}, "kiln/test") ==
            UploadResult::mounted);
      CHECK(client.blob_exists("kiln/other", big_digest) == big.size());
      // From a repository that lacks it: the registry opens an upload session instead.
      std::string fresh = "fresh";
      BlobFile fresh_file(fresh);
      CHECK(client.upload_blob("kiln/third", util::sha256_of(fresh), fresh.size(), fresh_file.fd, {},
                               "kiln/nothing") == UploadResult::uploaded);
    }

    // Unknown blob: not_found with the registry's code.
    ErrorKind kind{};
    util::Digest missing = util::sha256_of("missing");
    std::string msg = message_of([&] { download(client, "kiln/test", missing); }, &kind);
    CHECK(kind == ErrorKind::not_found);
    CHECK(msg == fmt::format("GET /v2/kiln/test/blobs/{}: 404 Not Found (BLOB_UNKNOWN: blob unknown to registry)",
                             missing.str()));

    // Tamper with the stored bytes (same length): the download fails as corrupt.
    fs::path stored = reg.blob_file(big_digest);
    REQUIRE(fs::exists(stored));
    std::string bytes = util::read_file(stored);
    bytes[1000] ^= 0x55;
    util::write_file_atomic(stored, bytes);
    msg = message_of([&] { download(client, "kiln/test", big_digest, big.size()); }, &kind);
    CHECK(kind == ErrorKind::corrupt);
    CHECK(msg.find("digest mismatch") != std::string::npos);
    // A size mismatch is corrupt too.
    msg = message_of([&] { download(client, "kiln/test", small_digest, small.size() + 1); }, &kind);
    CHECK(kind == ErrorKind::corrupt);
  }

  TEST_CASE("manifests, tags and catalog") {
    if (!have_registry()) return;
    LocalRegistry reg("");
    RegistryOptions options;
    options.insecure = true;
    options.page_size = 2;
    RegistryClient client(reg.host, options);

    std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
    std::string layer = random_bytes(1000, 2);
    util::Digest config_digest = push_blob(client, "app/web", config);
    util::Digest layer_digest = push_blob(client, "app/web", layer);
    std::string manifest = oci_manifest(config_digest, config.size(), layer_digest, layer.size());

    util::Digest digest = client.put_manifest("app/web", "v1", manifest, kOciManifest);
    CHECK(digest == util::sha256_of(manifest));
    client.put_manifest("app/web", "v2", manifest, kOciManifest);
    client.put_manifest("app/web", "latest", manifest, kOciManifest);

    Manifest got = client.get_manifest("app/web", "v1");
    CHECK(got.bytes == manifest);
    CHECK(got.media_type == kOciManifest);
    CHECK(got.digest == digest);
    got = client.get_manifest("app/web", digest.str());
    CHECK(got.bytes == manifest);

    auto head = client.head_manifest("app/web", "latest");
    REQUIRE(head);
    CHECK(head->digest == digest);
    CHECK(head->media_type == kOciManifest);
    CHECK(head->size == manifest.size());
    CHECK_FALSE(client.head_manifest("app/web", "nope"));

    ErrorKind kind{};
    std::string msg = message_of([&] { client.get_manifest("app/web", "nope"); }, &kind);
    CHECK(kind == ErrorKind::not_found);
    CHECK(msg == "GET /v2/app/web/manifests/nope: 404 Not Found (MANIFEST_UNKNOWN: manifest unknown)");
    msg = message_of([&] { client.get_manifest("no/such", "latest"); }, &kind);
    CHECK(kind == ErrorKind::not_found);

    auto tags = client.list_tags("app/web");
    std::sort(tags.begin(), tags.end());
    CHECK(tags == std::vector<std::string>{"latest", "v1", "v2"});
    msg = message_of([&] { client.list_tags("no/such"); }, &kind);
    CHECK(kind == ErrorKind::not_found);

    // Five repositories, two per page: the client follows Link three times.
    for (auto repo : {"app/a", "app/b", "app/c", "app/d"}) {
      BlobFile config_file(config), layer_file(layer);
      client.upload_blob(repo, config_digest, config.size(), config_file.fd, {}, "app/web");
      client.upload_blob(repo, layer_digest, layer.size(), layer_file.fd, {}, "app/web");
      client.put_manifest(repo, "t", manifest, kOciManifest);
    }
    auto names = client.catalog();
    CHECK(names == std::vector<std::string>{"app/a", "app/b", "app/c", "app/d", "app/web"});
    CHECK(client.catalog(3) == std::vector<std::string>{"app/a", "app/b", "app/c"});

    client.delete_manifest("app/a", digest);
    CHECK_FALSE(client.head_manifest("app/a", digest.str()));
  }

  TEST_CASE("Basic auth: 401 without credentials, success with them") {
    if (!have_registry()) return;
    LocalRegistry reg("--auth alice:wonderland");
    util::TempDir tmp(fs::temp_directory_path(), "kiln-authfile-");
    RegistryOptions options;
    options.insecure = true;
    options.auth_file = tmp.path() / "auth.json";  // empty: no credentials
    RegistryClient anonymous(reg.host, options);
    ErrorKind kind{};
    CHECK(message_of([&] { anonymous.ping(); }, &kind) == "GET /v2/: 401 Unauthorized");
    CHECK(kind == ErrorKind::unauthorized);

    options.credentials = Credentials{"alice", "wrong"};
    RegistryClient wrong(reg.host, options);
    CHECK(message_of([&] { wrong.ping(); }, &kind) == "GET /v2/: 401 Unauthorized");

    // Credentials from the auth file.
    options.credentials.reset();
    store_credentials(options.auth_file, reg.host, {"alice", "wonderland"});
    RegistryClient client(reg.host, options);
    client.ping();
    util::Digest d = push_blob(client, "secure/x", "data");
    CHECK(client.blob_exists("secure/x", d) == 4);
    CHECK(download(client, "secure/x", d) == "data");
  }

  TEST_CASE("Bearer tokens from a token server") {
    if (!have_registry()) return;
    clear_token_cache();
    LocalRegistry reg("--token --auth bob:builder");
    RegistryOptions options;
    options.insecure = true;
    options.auth_file = reg.dir / "none.json";
    options.credentials = Credentials{"bob", "builder"};
    options.chunk_size = 1024;
    RegistryClient client(reg.host, options);
    client.ping();
    std::string data = random_bytes(5000, 3);
    util::Digest d = push_blob(client, "team/app", data);  // chunked, with a pull,push token
    CHECK(download(client, "team/app", d) == data);
    std::string manifest = oci_manifest(d, data.size(), d, data.size());
    client.put_manifest("team/app", "1.0", manifest, kOciManifest);
    CHECK(client.get_manifest("team/app", "1.0").bytes == manifest);
    CHECK(client.list_tags("team/app") == std::vector<std::string>{"1.0"});
    CHECK(client.catalog() == std::vector<std::string>{"team/app"});  // registry:catalog:* scope
    // Mount needs pull on the source and push on the target in one token.
    BlobFile file(data);
    CHECK(client.upload_blob("team/copy", d, data.size(), file.fd, {}, "team/app") == UploadResult::mounted);

    options.credentials = Credentials{"bob", "wrong"};
    clear_token_cache();
    RegistryClient wrong(reg.host, options);
    ErrorKind kind{};
    std::string msg = message_of([&] { wrong.ping(); }, &kind);
    CHECK(kind == ErrorKind::unauthorized);
    CHECK(msg == "GET /token: 401 Unauthorized");

    // Anonymous: a token without push access; the registry still says 401.
    options.credentials.reset();
    RegistryClient anonymous(reg.host, options);
    msg = message_of([&] { push_blob(anonymous, "team/app", "x"); }, &kind);
    CHECK(kind == ErrorKind::unauthorized);
    CHECK(msg == "POST /v2/team/app/blobs/uploads/: 401 Unauthorized");
  }

  TEST_CASE("TLS: CA from a certs.d directory, refusal without it, insecure skips verification") {
    if (!have_registry()) return;
    LocalRegistry reg("--tls");
    REQUIRE_FALSE(reg.cert_dir.empty());
    RegistryOptions options;
    options.cert_dir = reg.cert_dir;
    options.http.retries = 0;
    RegistryClient client(reg.host, options);
    client.ping();
    CHECK(client.base_url() == "https://" + reg.host);
    util::Digest d = push_blob(client, "tls/x", "over tls");
    CHECK(download(client, "tls/x", d) == "over tls");

    RegistryClient untrusted(reg.host, RegistryOptions{.http = options.http});
    try {
      untrusted.ping();
      FAIL("ping without the CA succeeded");
    } catch (const TransportError& e) {
      CHECK(e.tls());
    }

    RegistryOptions insecure;
    insecure.insecure = true;
    RegistryClient skip(reg.host, insecure);
    skip.ping();
    CHECK(skip.base_url() == "https://" + reg.host);  // https worked, no http fallback
  }

  TEST_CASE("a broken download resumes with Range; tampering in transit is caught") {
    if (!have_registry()) return;
    LocalRegistry reg("", "--cut 3000");
    RegistryOptions options;
    options.insecure = true;
    options.http.backoff = std::chrono::milliseconds(10);
    RegistryClient direct(reg.host, options);
    std::string data = random_bytes(50000, 4);
    util::Digest d = push_blob(direct, "cut/x", data);

    RegistryClient client(reg.proxy_host, options);
    CHECK(download(client, "cut/x", d, data.size()) == data);
    std::string log = reg.proxy_log();
    CHECK(log.find("GET /v2/cut/x/blobs/" + d.str() + " range=-") != std::string::npos);
    CHECK(log.find("range=bytes=3000-") != std::string::npos);

    LocalRegistry flip("", "--flip");
    RegistryClient direct2(flip.host, options);
    push_blob(direct2, "flip/x", data);
    RegistryClient tampered(flip.proxy_host, options);
    ErrorKind kind{};
    std::string msg = message_of([&] { download(tampered, "flip/x", d); }, &kind);
    CHECK(kind == ErrorKind::corrupt);
    CHECK(msg.find("blob " + d.str() + ": digest mismatch") != std::string::npos);
  }

  TEST_CASE("a blob redirect to another host gets no Authorization header") {
    if (!have_registry()) return;
    LocalRegistry reg("--auth carol:pw", "--redirect");
    RegistryOptions options;
    options.insecure = true;
    options.credentials = Credentials{"carol", "pw"};
    RegistryClient direct(reg.host, options);
    std::string data = "redirected blob";
    util::Digest d = push_blob(direct, "redir/x", data);

    RegistryClient client(reg.proxy_host, options);
    client.ping();  // learns the Basic challenge: later requests carry credentials
    CHECK(download(client, "redir/x", d) == data);
    std::string log = reg.proxy_log();
    INFO(log);
    CHECK(log.find("GET /v2/redir/x/blobs/" + d.str() + " range=- auth=yes host=" + reg.proxy_host) !=
          std::string::npos);
    CHECK(log.find("GET /_redirected/v2/redir/x/blobs/" + d.str() + " range=- auth=no host=localhost:") !=
          std::string::npos);
  }

  TEST_CASE("parallel downloads through the worker pool share one client") {
    if (!have_registry()) return;
    LocalRegistry reg("");
    RegistryOptions options;
    options.insecure = true;
    RegistryClient client(reg.host, options);
    std::vector<std::pair<std::string, util::Digest>> blobs;
    for (unsigned i = 0; i < 8; ++i) {
      std::string data = random_bytes(10000 + i, 10 + i);
      blobs.emplace_back(data, push_blob(client, "par/x", data));
    }
    std::atomic<int> ok{0};
    for_each_parallel(blobs, [&](auto& blob) {
      if (download(client, "par/x", blob.second) == blob.first) ++ok;
    });
    CHECK(ok == 8);
  }
}

// ---------------------------------------------------------------------------
// Pull and push: progress rendering, format choices, recompression, and a
// round trip through a real registry into a store.

TEST_CASE("progress: byte counts, one line per start and end off a terminal, silence with -q") {
  CHECK(human_bytes(512) == "512B");
  CHECK(human_bytes(1536) == "1.5KiB");
  CHECK(human_bytes(5u << 20) == "5.0MiB");
  char* text = nullptr;
  std::size_t size = 0;
  FILE* out = ::open_memstream(&text, &size);
  {
    TransferProgress progress(TransferProgress::Mode::lines, out);
    auto a = progress.add("blob 0123456789ab", 100);
    auto b = progress.add("blob ba9876543210", 10);
    progress.start(a);
    progress.update(a, 50, 100);  // nothing: lines mode prints starts and ends only
    progress.finish(a);
    progress.finish(b, "skipped: already exists");
    progress.message("Writing manifest to image destination");
  }
  std::fclose(out);
  std::string lines(text, size);
  std::free(text);
  CHECK(lines.starts_with("Copying blob 0123456789ab\nCopied blob 0123456789ab (100B in "));
  CHECK(lines.find("Copying blob ba9876543210 skipped: already exists\n") != std::string::npos);
  CHECK(lines.ends_with("Writing manifest to image destination\n"));
  CHECK(lines.find('\x1b') == std::string::npos);

  text = nullptr;
  out = ::open_memstream(&text, &size);
  {
    TransferProgress quiet(TransferProgress::Mode::quiet, out);
    quiet.start(quiet.add("blob x", 1));
    quiet.message("m");
  }
  std::fclose(out);
  CHECK(size == 0);
  std::free(text);
}

TEST_CASE("push: --format values and the repository blobs are mounted from") {
  CHECK(parse_manifest_format("oci") == ManifestFormat::oci);
  CHECK(parse_manifest_format("v2s2") == ManifestFormat::docker);
  CHECK(message_of([] { parse_manifest_format("v2s1"); }).find("not supported") != std::string::npos);
  CHECK(message_of([] { parse_manifest_format("xml"); }) == "unknown manifest format \"xml\" (want oci or v2s2)");

  store::ImageRecord image;
  image.digests = {"quay.io/a/b@sha256:" + std::string(64, 'a'), "127.0.0.1:5000/src/img@sha256:" + std::string(64, 'b')};
  CHECK(mount_source(image, image::Reference::parse("127.0.0.1:5000/dst/img:1")) == "src/img");
  CHECK(mount_source(image, image::Reference::parse("127.0.0.1:5000/src/img:2")) == "");
  CHECK(mount_source(image, image::Reference::parse("ghcr.io/x/y")) == "");
  CHECK(blob_lock_key(util::Digest::sha256_hex(std::string(64, 'c'))) == "blob-" + std::string(64, 'c'));
}

TEST_CASE("recompress: gzip -> zstd -> gzip keeps the tar bytes (the diff id)") {
  util::TempDir tmp(fs::temp_directory_path(), "kiln-recompress-");
  std::string raw = random_bytes(300000, 7) + std::string(200000, 'x');
  util::Digest diff_id = util::sha256_of(raw);
  {
    auto fd = util::open_file(tmp.path() / "a.gz", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    layer::CompressedWriter writer(fd, layer::Compression::gzip);
    writer.write(raw.data(), raw.size());
    writer.finish();
  }
  using image::media_type::Compression;
  Recompressed zst = recompress_blob(tmp.path() / "a.gz", Compression::gzip, tmp.path() / "b.zst", Compression::zstd);
  CHECK(zst.diff_id == diff_id);
  CHECK(zst.digest == util::sha256_of_file(tmp.path() / "b.zst"));
  CHECK(zst.size == fs::file_size(tmp.path() / "b.zst"));
  Recompressed gz = recompress_blob(tmp.path() / "b.zst", Compression::zstd, tmp.path() / "c.gz", Compression::gzip);
  CHECK(gz.diff_id == diff_id);
  Recompressed plain = recompress_blob(tmp.path() / "c.gz", Compression::gzip, tmp.path() / "d.tar", Compression::none);
  CHECK(util::read_file(tmp.path() / "d.tar") == raw);
  // A truncated stream is an error, not a short layer.
  fs::resize_file(tmp.path() / "c.gz", fs::file_size(tmp.path() / "c.gz") / 2);
  ErrorKind kind = ErrorKind::generic;
  std::string message = message_of(
      [&] { recompress_blob(tmp.path() / "c.gz", Compression::gzip, tmp.path() / "e.zst", Compression::zstd); }, &kind);
  CHECK(kind == ErrorKind::corrupt);
  CHECK(message.find("truncated") != std::string::npos);
}

TEST_SUITE("registry") {
  TEST_CASE("pull into a store keeps the manifest bytes; push mounts, then skips what exists") {
    if (!have_registry()) return;
    LocalRegistry reg("");
    RegistryOptions options;
    options.insecure = true;
    RegistryClient client(reg.host, options);
    util::TempDir tmp(fs::temp_directory_path(), "kiln-pull-");

    // A two-layer image made with the layer module, uploaded by hand.
    std::vector<util::Digest> diff_ids;
    std::vector<std::pair<util::Digest, std::uint64_t>> blobs;
    for (int i = 0; i < 2; ++i) {
      fs::path dir = tmp.path() / fmt::format("tree{}", i);
      fs::create_directories(dir / "etc");
      util::write_file_atomic(dir / "etc" / fmt::format("file{}", i), fmt::format("layer {}\n", i));
      fs::path blob = tmp.path() / fmt::format("layer{}.tgz", i);
      auto fd = util::open_file(blob, O_RDWR | O_CREAT | O_TRUNC, 0600);
      layer::CreateResult created = layer::create_layer(dir, fd);
      diff_ids.push_back(created.diff_id);
      blobs.emplace_back(created.blob_digest, created.compressed_size);
      client.upload_blob("src/img", created.blob_digest, created.compressed_size, fd);
    }
    std::string config = fmt::format(
        R"({{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}})",
        diff_ids[0].str(), diff_ids[1].str());
    util::Digest config_digest = push_blob(client, "src/img", config);
    // Indented: the store must keep these very bytes.
    std::string manifest = oci_manifest_json(config_digest, config.size(), blobs).dump(2);
    util::Digest manifest_digest = client.put_manifest("src/img", "1", manifest, kOciManifest);

    store::Store store = store::Store::open(tmp.path() / "root");
    PullOptions pull;
    auto ref = image::Reference::parse(reg.host + "/src/img:1");
    PulledImage pulled = pull_image(store, client, ref, pull);
    CHECK(pulled.record.id == config_digest);
    CHECK(pulled.manifest_digest == manifest_digest);
    CHECK(pulled.layers_downloaded == 2);
    CHECK(store.read_blob(manifest_digest) == manifest);
    CHECK(pulled.record.names == std::vector<std::string>{reg.host + "/src/img:1"});
    CHECK(pulled.record.digests == std::vector<std::string>{reg.host + "/src/img@" + manifest_digest.str()});
    REQUIRE(pulled.record.layers.size() == 2);
    // Blobs only: the layers are extracted on first use.
    CHECK(pulled.record.layer_blobs == std::vector<util::Digest>{blobs[0].first, blobs[1].first});
    CHECK_FALSE(store.has_layer(pulled.record.layers[0]));
    CHECK(store.check(false).ok());
    archive::unpack_image(store, pulled.record, true);
    CHECK(util::read_file(store.layer_dir(pulled.record.layers[1]) / "etc/file1") == "layer 1\n");
    // Again: everything is there, nothing is downloaded.
    CHECK(pull_image(store, client, ref, pull).layers_downloaded == 0);

    auto dest = image::Reference::parse(reg.host + "/dst/img:1");
    PushedImage pushed = push_image(store, client, pulled.record, dest);
    CHECK(pushed.manifest_digest == manifest_digest);
    CHECK(pushed.blobs_mounted == 3);
    CHECK(pushed.blobs_uploaded == 0);
    PushedImage again = push_image(store, client, pulled.record, dest);
    CHECK(again.blobs_existing == 3);
    CHECK(again.manifest_digest == manifest_digest);

    PushOptions docker;
    docker.format = ManifestFormat::docker;
    PushedImage converted = push_image(store, client, pulled.record, image::Reference::parse(reg.host + "/dst/img:d"), docker);
    CHECK(converted.manifest_media_type == std::string(kDockerManifest));
    Manifest back = client.get_manifest("dst/img", "d");
    CHECK(back.bytes.find(config_digest.str()) != std::string::npos);
    CHECK(back.bytes.find("application/vnd.docker.image.rootfs.diff.tar.gzip") != std::string::npos);

    // A tag that does not exist: not_found, nothing recorded.
    ErrorKind kind = ErrorKind::generic;
    message_of([&] { pull_image(store, client, image::Reference::parse(reg.host + "/src/img:nope"), pull); }, &kind);
    CHECK(kind == ErrorKind::not_found);
    CHECK(store.list_images().size() == 1);
  }
}

TEST_SUITE("registry") {
  TEST_CASE("pull verifies each blob; the first use checks the diff ids: a lie stores no layer") {
    if (!have_registry()) return;
    LocalRegistry reg("");
    RegistryOptions options;
    options.insecure = true;
    options.http.retries = 0;
    RegistryClient client(reg.host, options);
    util::TempDir tmp(fs::temp_directory_path(), "kiln-pull-bad-");

    // Three layers, each large enough to arrive in many chunks while it is extracted.
    std::vector<util::Digest> diff_ids;
    std::vector<std::pair<util::Digest, std::uint64_t>> blobs;
    for (int i = 0; i < 3; ++i) {
      fs::path dir = tmp.path() / fmt::format("tree{}", i);
      fs::create_directories(dir / "data");
      util::write_file_atomic(dir / "data" / fmt::format("file{}", i), random_bytes(3 << 20, static_cast<unsigned>(i)));
      fs::path blob = tmp.path() / fmt::format("layer{}.tgz", i);
      auto fd = util::open_file(blob, O_RDWR | O_CREAT | O_TRUNC, 0600);
      layer::CreateResult created = layer::create_layer(dir, fd);
      diff_ids.push_back(created.diff_id);
      blobs.emplace_back(created.blob_digest, created.compressed_size);
      client.upload_blob("src/img", created.blob_digest, created.compressed_size, fd);
    }
    // tag: the manifest for these blobs with the given diff ids in its config.
    auto publish = [&](const std::string& tag, const std::vector<util::Digest>& ids) {
      OrderedJson c;
      c["architecture"] = "amd64";
      c["os"] = "linux";
      c["rootfs"] = {{"type", "layers"}, {"diff_ids", OrderedJson::array()}};
      for (const auto& id : ids) c["rootfs"]["diff_ids"].push_back(id.str());
      std::string config = c.dump();
      util::Digest config_digest = push_blob(client, "src/img", config);
      client.put_manifest("src/img", tag, oci_manifest_json(config_digest, config.size(), blobs).dump(), kOciManifest);
      return image::Reference::parse(reg.host + "/src/img:" + tag);
    };
    auto nothing_stored = [&](store::Store& store) {
      CHECK(store.list_images().empty());
      CHECK(store.list_layers().empty());
      // Verified blobs may stay (complete, unreferenced: a retry reuses them); the bad one not.
      CHECK_FALSE(store.has_blob(blobs[2].first));
      CHECK(fs::is_empty(store.tmp_dir()));
      CHECK(store.check(false).ok());
    };
    PullOptions pull;

    SUBCASE("the config claims another diff id for the middle layer: the first use fails") {
      std::vector<util::Digest> ids = diff_ids;
      ids[1] = util::sha256_of("not this layer");
      store::Store store = store::Store::open(tmp.path() / "root-diff");
      // The blobs are what the manifest says: the pull stores them. The diff ids are
      // checked when the layers are extracted, and a lie publishes no layer at all.
      PulledImage pulled = pull_image(store, client, publish("diff", ids), pull);
      ErrorKind kind = ErrorKind::generic;
      std::string message = message_of([&] { archive::unpack_image(store, pulled.record, true); }, &kind);
      CHECK(kind == ErrorKind::corrupt);
      CHECK(message.find("the config says " + ids[1].str()) != std::string::npos);
      CHECK(store.list_layers().empty());
      CHECK(fs::is_empty(store.tmp_dir()));
      CHECK(store.check(false).ok());
      // Nothing was stored under the lying chain id, and removing the image cleans up.
      store.remove_image(pulled.record.id);
      CHECK(store.list_blobs().empty());
    }
    SUBCASE("a layer blob changed in the registry's storage") {
      auto ref = publish("tampered", diff_ids);
      fs::path file = reg.blob_file(blobs[2].first);
      std::string bytes = util::read_file(file);
      bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x55);
      util::write_file_atomic(file, bytes);
      store::Store store = store::Store::open(tmp.path() / "root-blob");
      ErrorKind kind = ErrorKind::generic;
      std::string message = message_of([&] { pull_image(store, client, ref, pull); }, &kind);
      CHECK(kind == ErrorKind::corrupt);
      CHECK(message.find("blob " + blobs[2].first.str() + ": digest mismatch") != std::string::npos);
      // The other layers were fine, but no layer of a failed pull is published.
      nothing_stored(store);
    }
    SUBCASE("all good: every layer extracted on first use, verified and published") {
      store::Store store = store::Store::open(tmp.path() / "root-good");
      PulledImage pulled = pull_image(store, client, publish("good", diff_ids), pull);
      REQUIRE(pulled.record.layers.size() == 3);
      CHECK(store.list_layers().empty());
      CHECK_FALSE(archive::image_unpacked(store, pulled.record));
      archive::unpack_image(store, pulled.record, true);
      CHECK(archive::image_unpacked(store, pulled.record));
      CHECK(store.list_layers().size() == 3);
      for (int i = 0; i < 3; ++i)
        CHECK(util::read_file(store.layer_dir(pulled.record.layers[static_cast<std::size_t>(i)]) / "data" /
                              fmt::format("file{}", i)) == random_bytes(3 << 20, static_cast<unsigned>(i)));
      CHECK(fs::is_empty(store.tmp_dir()));
      CHECK(store.check(false).ok());
    }
  }
}
