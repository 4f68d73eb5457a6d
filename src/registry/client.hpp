// RegistryClient: the Distribution (OCI distribution spec / Docker registry
// HTTP API v2) operations kiln needs, for one registry host, over plain
// strings: repository names, tags or digests, media types. It picks https
// (http only as a fallback for registries marked insecure), answers auth
// challenges (Basic, Bearer tokens per scope), verifies the digest of every
// manifest and blob it receives, and maps HTTP failures to one-line errors
// such as "GET /v2/a/manifests/latest: 401 Unauthorized".
// Safe to share between threads (pull and push run transfers in parallel).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry/auth.hpp"
#include "registry/http.hpp"
#include "util/digest.hpp"
#include "util/fd.hpp"

namespace kiln::registry {

/// Manifest media types kiln accepts, in the order sent in Accept.
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The Accept list for pulls: all four above.
std::vector<std::string> default_manifest_accept();

/// Called during transfers with bytes done and the total (0 when unknown).
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

/// A download's bytes as they arrive, for a caller that hashes (and extracts) them itself.
struct BlobStream {
  /// Each chunk, in order, after it was written to the output.
  std::function<void(const char* data, std::size_t size)> on_bytes;
  /// The download starts over from byte 0 (the output was rewound).
  std::function<void()> on_restart;
  /// Bytes done and the total, as ProgressFn.
  ProgressFn progress;
};

struct RegistryOptions {
  /// Allow plain http (after https failed) and skip TLS verification, as podman does for
  /// registries listed insecure or given --tls-verify=false.
  bool insecure = false;
  /// A containers-certs.d directory for this host (may be empty).
  std::filesystem::path cert_dir;
  /// Explicit credentials (--creds, login); else the auth file is consulted.
  std::optional<Credentials> credentials;
  /// --authfile; empty: the default search (see auth_file.hpp).
  std::filesystem::path auth_file;
  /// Blobs up to this size go up in one PUT; larger ones in PATCH chunks of this size.
  std::uint64_t chunk_size = 32u << 20;
  /// Entries asked per page of /v2/_catalog (n=).
  std::size_t page_size = 100;
  HttpOptions http;
};

/// A manifest as received: exact bytes, the media type (Content-Type or mediaType field), digest.
struct Manifest {
  std::string bytes;
  std::string media_type;
  util::Digest digest;
};

/// What HEAD tells about a manifest.
struct ManifestInfo {
  std::string media_type;
  util::Digest digest;  // empty when the registry sent no Docker-Content-Digest
  std::uint64_t size = 0;
};

/// How upload_blob got the blob there.
enum class UploadResult { existed, mounted, uploaded };

class RegistryClient {
public:
  /// host is "registry[:port]" as in a reference ("docker.io" talks to registry-1.docker.io).
  RegistryClient(std::string host, RegistryOptions options = {});

  /// GET /v2/: checks the registry answers and the credentials are accepted (login).
  /// Throws kiln::Error(unauthorized) when they are not.
  void ping();

  /// GET a manifest by tag or digest. When ref is a digest the bytes must hash to it.
  /// Throws not_found, unauthorized, corrupt, or "schema 1 manifests are not supported".
  Manifest get_manifest(std::string_view repository, std::string_view ref,
                        const std::vector<std::string>& accept = default_manifest_accept());
  /// HEAD a manifest; nullopt when it does not exist.
  std::optional<ManifestInfo> head_manifest(std::string_view repository, std::string_view ref,
                                            const std::vector<std::string>& accept = default_manifest_accept());
  /// PUT a manifest under a tag or its digest; returns the digest of the bytes
  /// (checked against Docker-Content-Digest when the registry sends one).
  util::Digest put_manifest(std::string_view repository, std::string_view ref, std::string_view bytes,
                            std::string_view media_type);
  /// DELETE a manifest by digest.
  void delete_manifest(std::string_view repository, const util::Digest& digest);

  /// HEAD a blob: its size, or nullopt when the registry lacks it.
  std::optional<std::uint64_t> blob_exists(std::string_view repository, const util::Digest& digest);
  /// Downloads a blob into out (appending at its offset), hashing every byte; resumes with
  /// Range after a broken transfer when the registry allows. Throws kiln::Error(corrupt) on
  /// a digest or size mismatch: the caller must discard what was written.
  void get_blob(std::string_view repository, const util::Digest& digest, util::Fd out,
                const ProgressFn& progress = {}, std::optional<std::uint64_t> expected_size = {});
  /// Like get_blob, but the caller verifies the digest: every byte written to out is also
  /// passed, in order, to stream.on_bytes; when the registry answers a resume with the
  /// whole blob again, out is rewound and stream.on_restart is called before the bytes
  /// start over. Checks the size only. Throws like get_blob.
  void get_blob_stream(std::string_view repository, const util::Digest& digest, util::Fd out,
                       const BlobStream& stream, std::optional<std::uint64_t> expected_size = {});
  /// Uploads size bytes read from in (pread from offset 0) as the blob digest. Tries a
  /// cross-repository mount from mount_from first when given.
  UploadResult upload_blob(std::string_view repository, const util::Digest& digest, std::uint64_t size,
                           util::Fd in, const ProgressFn& progress = {}, std::string_view mount_from = {});

  /// All tags of a repository (following Link pagination).
  std::vector<std::string> list_tags(std::string_view repository);
  /// Repository names from /v2/_catalog, at most limit (0: all), following pagination.
  std::vector<std::string> catalog(std::size_t limit = 0);

  const std::string& host() const noexcept { return host_; }
  /// "https://host" or "http://host" once decided (after the first request).
  std::string base_url();

private:
  // One logical request: a path below the base URL (or an absolute URL from a
  // Location header), the repository whose credentials apply, the token scopes.
  struct Call {
    std::string method;
    std::string url;
    std::string repository;
    std::vector<std::string> scopes;
    std::vector<std::string> headers;
    std::string body;
    util::Fd body_fd;
    std::uint64_t body_offset = 0;
    std::uint64_t body_size = 0;
    util::Fd out_fd;
    BytesFn on_bytes;
    std::function<void(long)> on_start;
    std::function<void(std::uint64_t)> on_sent;
    bool retry = true;
    bool large_body = false;
  };
  HttpResponse send(Call& call);
  HttpResponse attempt(const Call& call, const std::string& target, const std::string& authorization);
  std::string authorization_for(const Call& call, const std::vector<std::string>& scopes);
  std::optional<Credentials> credentials_for(std::string_view repository);
  void decide_scheme();
  std::string url(std::string_view path);
  /// POST an upload session (or a mount); returns the Location or "" when mounted.
  std::string start_upload(Call& call, std::string_view repository, const util::Digest& digest,
                           std::string_view mount_from);

  std::string host_;      // as named by the user
  std::string endpoint_;  // host:port actually contacted
  RegistryOptions options_;
  HttpClient http_;
  std::mutex mutex_;  // guards scheme_, challenge_, credentials_
  std::string scheme_;
  std::optional<Challenge> challenge_;
  std::map<std::string, std::optional<Credentials>> credentials_;  // by repository
};

/// The Error for a failed registry answer: "GET /v2/a/manifests/x: 404 Not Found
/// (MANIFEST_UNKNOWN: manifest unknown)"; kind unauthorized for 401/403, not_found for 404.
Error http_error(std::string_view method, std::string_view url, long status, std::string_view body);

/// "/v2/<repository>/<kind>/<ref>" with ref escaped where needed.
std::string api_path(std::string_view repository, std::string_view kind, std::string_view ref);

/// The media type of received manifest bytes: Content-Type (parameters dropped), else the
/// mediaType field. Throws kiln::Error(invalid_input) "schema 1 manifests are not supported"
/// for schema 1 (by type or schemaVersion) and for bytes that are not a JSON object.
std::string manifest_media_type(std::string_view content_type, std::string_view bytes);

/// The digest a manifest's bytes must match when ref names one; nullopt for a tag.
std::optional<util::Digest> ref_digest(std::string_view ref);

}  // namespace kiln::registry
