// RegistryClient: request plumbing (scheme, auth challenges, error mapping)
// and the manifest, tag and catalog operations. Blob transfers live in
// blob_transfer.cpp.
#include "registry/client.hpp"

#include <algorithm>
#include <cctype>

#include "registry/auth_file.hpp"
#include "util/json.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::registry {
namespace {

constexpr std::size_t kManifestLimit = 4 << 20;  // the spec's suggested maximum

bool repository_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/';
}

std::string strip_params(std::string_view content_type) {
  return std::string(util::trim(content_type.substr(0, content_type.find(';'))));
}

bool schema1(std::string_view media_type) {
  return media_type.find("distribution.manifest.v1") != std::string_view::npos;
}

}  // namespace

std::vector<std::string> default_manifest_accept() {
  return {std::string(kOciManifest), std::string(kOciIndex), std::string(kDockerManifest),
          std::string(kDockerManifestList)};
}

std::string api_path(std::string_view repository, std::string_view kind, std::string_view ref) {
  if (repository.empty() || !std::all_of(repository.begin(), repository.end(), repository_char) ||
      repository.front() == '/' || repository.back() == '/')
    fail(ErrorKind::invalid_input, "invalid repository name \"{}\"", repository);
  std::string path = fmt::format("/v2/{}/{}", repository, kind);
  if (!ref.empty()) {
    // Tags are [\w.-], digests algorithm:hex: nothing to escape, but nothing else may pass.
    bool plain = std::all_of(ref.begin(), ref.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == ':' || c == '+';
    });
    if (!plain) fail(ErrorKind::invalid_input, "invalid tag or digest \"{}\"", ref);
    path += "/" + std::string(ref);
  }
  return path;
}

std::string manifest_media_type(std::string_view content_type, std::string_view bytes) {
  std::string type = strip_params(content_type);
  Json j = util::parse_json(bytes, "manifest");
  if (!j.is_object()) fail(ErrorKind::invalid_input, "manifest is not a JSON object");
  if (j.value("schemaVersion", 0) == 1 || schema1(type))
    fail(ErrorKind::invalid_input, "schema 1 manifests are not supported");
  // Registries serving files may say application/json; the manifest's own field decides then.
  if ((type.empty() || type == "application/json" || type == "text/plain") && j.contains("mediaType") &&
      j["mediaType"].is_string())
    type = j["mediaType"].get<std::string>();
  return type;
}

std::optional<util::Digest> ref_digest(std::string_view ref) {
  if (ref.find(':') == std::string_view::npos) return std::nullopt;
  return util::Digest::parse(ref);
}

Error http_error(std::string_view method, std::string_view url, long status, std::string_view body) {
  std::string message = fmt::format("{} {}: {}", method, url_path(url), status);
  if (auto reason = status_reason(status); !reason.empty()) message += fmt::format(" {}", reason);
  // Distribution's error body: {"errors": [{"code": "...", "message": "...", "detail": ...}]}
  std::string code;
  try {
    Json j = Json::parse(body);
    const Json& first = j.at("errors").at(0);
    code = first.value("code", "");
    std::string text = first.value("message", "");
    // "UNAUTHORIZED: authentication required" only repeats the status.
    if (!code.empty() && code != "UNAUTHORIZED") message += fmt::format(" ({}: {})", code, text);
  } catch (const std::exception&) {
    // Not JSON: nothing to add.
  }
  ErrorKind kind = ErrorKind::generic;
  if (status == 401 || status == 403) kind = ErrorKind::unauthorized;
  if (status == 404) kind = ErrorKind::not_found;
  return Error(message, kind);
}

RegistryClient::RegistryClient(std::string host, RegistryOptions options)
    : host_(std::move(host)), options_(std::move(options)) {
  endpoint_ = host_ == "docker.io" ? "registry-1.docker.io" : host_;
  if (options_.insecure) options_.http.tls_verify = false;
  options_.http.cert_dir = options_.cert_dir;
  http_ = HttpClient(options_.http);
  if (options_.chunk_size == 0) options_.chunk_size = 32u << 20;
}

void RegistryClient::decide_scheme() {
  std::lock_guard lock(mutex_);
  if (!scheme_.empty()) return;
  if (!options_.insecure) {
    scheme_ = "https";
    return;
  }
  // podman's order for an insecure registry: https without verification, then http.
  HttpRequest probe;
  probe.url = fmt::format("https://{}/v2/", endpoint_);
  probe.retry = false;
  try {
    http_.perform(probe);
    scheme_ = "https";
  } catch (const TransportError& e) {
    util::debug("{}; falling back to http for {}", e.what(), endpoint_);
    scheme_ = "http";
  }
}

std::string RegistryClient::base_url() {
  decide_scheme();
  std::lock_guard lock(mutex_);
  return scheme_ + "://" + endpoint_;
}

std::string RegistryClient::url(std::string_view path) { return base_url() + std::string(path); }

std::optional<Credentials> RegistryClient::credentials_for(std::string_view repository) {
  if (options_.credentials) return options_.credentials;
  std::lock_guard lock(mutex_);
  auto it = credentials_.find(std::string(repository));
  if (it == credentials_.end())
    it = credentials_.emplace(std::string(repository), lookup_credentials(host_, repository, options_.auth_file)).first;
  return it->second;
}

std::string RegistryClient::authorization_for(const Call& call, const std::vector<std::string>& scopes) {
  std::optional<Challenge> challenge;
  {
    std::lock_guard lock(mutex_);
    challenge = challenge_;
  }
  if (!challenge) return "";
  auto credentials = credentials_for(call.repository);
  if (challenge->scheme == "bearer") return "Bearer " + fetch_token(http_, *challenge, scopes, credentials);
  if (challenge->scheme == "basic" && credentials) return basic_authorization(*credentials);
  return "";
}

HttpResponse RegistryClient::attempt(const Call& call, const std::string& target, const std::string& authorization) {
  HttpRequest request;
  request.method = call.method;
  request.url = target;
  request.headers = call.headers;
  // Credentials go only to the registry itself, never to a storage host it points at.
  if (!authorization.empty() && url_origin(target) == url_origin(base_url()))
    request.headers.push_back("Authorization: " + authorization);
  request.body = call.body;
  request.body_fd = call.body_fd;
  request.body_offset = call.body_offset;
  request.body_size = call.body_size;
  request.out_fd = call.out_fd;
  request.on_bytes = call.on_bytes;
  request.on_start = call.on_start;
  request.on_sent = call.on_sent;
  request.retry = call.retry;
  request.large_body = call.large_body;
  return http_.perform(request);
}

HttpResponse RegistryClient::send(Call& call) {
  std::string target = call.url.find("://") != std::string::npos ? call.url : url(call.url);
  HttpResponse response = attempt(call, target, authorization_for(call, call.scopes));
  if (response.status != 401) return response;
  auto header = response.header("WWW-Authenticate");
  if (!header) return response;
  auto challenges = parse_challenges(*header);
  auto pick = std::find_if(challenges.begin(), challenges.end(), [](auto& c) { return c.scheme == "bearer"; });
  if (pick == challenges.end())
    pick = std::find_if(challenges.begin(), challenges.end(), [](auto& c) { return c.scheme == "basic"; });
  if (pick == challenges.end()) return response;
  {
    std::lock_guard lock(mutex_);
    challenge_ = *pick;
  }
  std::vector<std::string> scopes = call.scopes;
  if (auto scope = pick->param("scope"); !scope.empty())
    for (const auto& s : util::split(scope, ' '))
      if (std::find(scopes.begin(), scopes.end(), s) == scopes.end()) scopes.push_back(s);
  std::string authorization = authorization_for(call, scopes);
  if (authorization.empty()) return response;  // nothing to offer: the 401 stands
  return attempt(call, target, authorization);
}

void RegistryClient::ping() {
  Call call{"GET", "/v2/"};
  HttpResponse response = send(call);
  if (!response.ok()) throw http_error("GET", response.effective_url, response.status, response.body);
}

Manifest RegistryClient::get_manifest(std::string_view repository, std::string_view ref,
                                      const std::vector<std::string>& accept) {
  Call call{"GET", api_path(repository, "manifests", ref), std::string(repository)};
  call.scopes = {repository_scope(repository, "pull")};
  std::string accept_header = "Accept: ";
  for (std::size_t i = 0; i < accept.size(); ++i) accept_header += (i ? ", " : "") + accept[i];
  call.headers.push_back(accept_header);
  HttpResponse response = send(call);
  if (!response.ok()) throw http_error("GET", call.url, response.status, response.body);
  if (response.body.size() > kManifestLimit)
    fail(ErrorKind::invalid_input, "GET {}: manifest of {} bytes is too large", call.url, response.body.size());

  Manifest manifest;
  manifest.bytes = std::move(response.body);
  manifest.media_type = strip_params(response.header("Content-Type").value_or(""));
  try {
    manifest.media_type = manifest_media_type(manifest.media_type, manifest.bytes);
  } catch (...) {
    util::rethrow_with("{}/{}", repository, ref);
  }

  manifest.digest = util::sha256_of(manifest.bytes);
  if (auto want = ref_digest(ref); want && *want != manifest.digest)
    fail(ErrorKind::corrupt, "GET {}: manifest digest mismatch: got {}", call.url, manifest.digest.str());
  if (auto sent = response.header("Docker-Content-Digest");
      sent && util::starts_with(*sent, "sha256:") && *sent != manifest.digest.str())
    fail(ErrorKind::corrupt, "GET {}: manifest digest {} does not match Docker-Content-Digest {}", call.url,
         manifest.digest.str(), *sent);
  return manifest;
}

std::optional<ManifestInfo> RegistryClient::head_manifest(std::string_view repository, std::string_view ref,
                                                          const std::vector<std::string>& accept) {
  Call call{"HEAD", api_path(repository, "manifests", ref), std::string(repository)};
  call.scopes = {repository_scope(repository, "pull")};
  std::string accept_header = "Accept: ";
  for (std::size_t i = 0; i < accept.size(); ++i) accept_header += (i ? ", " : "") + accept[i];
  call.headers.push_back(accept_header);
  HttpResponse response = send(call);
  if (response.status == 404) return std::nullopt;
  if (!response.ok()) throw http_error("HEAD", call.url, response.status, "");
  ManifestInfo info;
  info.media_type = strip_params(response.header("Content-Type").value_or(""));
  if (auto sent = response.header("Docker-Content-Digest"); sent && util::Digest::valid(*sent))
    info.digest = util::Digest::parse(*sent);
  if (auto length = response.header("Content-Length")) info.size = std::strtoull(length->c_str(), nullptr, 10);
  return info;
}

util::Digest RegistryClient::put_manifest(std::string_view repository, std::string_view ref, std::string_view bytes,
                                          std::string_view media_type) {
  Call call{"PUT", api_path(repository, "manifests", ref), std::string(repository)};
  call.scopes = {repository_scope(repository, "pull,push")};
  call.headers.push_back(fmt::format("Content-Type: {}", media_type));
  call.body = std::string(bytes);
  HttpResponse response = send(call);
  if (!response.ok()) throw http_error("PUT", call.url, response.status, response.body);
  util::Digest digest = util::sha256_of(bytes);
  if (auto sent = response.header("Docker-Content-Digest");
      sent && util::starts_with(*sent, "sha256:") && *sent != digest.str())
    fail(ErrorKind::corrupt, "PUT {}: registry computed digest {}, expected {}", call.url, *sent, digest.str());
  return digest;
}

void RegistryClient::delete_manifest(std::string_view repository, const util::Digest& digest) {
  Call call{"DELETE", api_path(repository, "manifests", digest.str()), std::string(repository)};
  call.scopes = {repository_scope(repository, "delete")};
  HttpResponse response = send(call);
  if (!response.ok()) throw http_error("DELETE", call.url, response.status, response.body);
}

std::vector<std::string> RegistryClient::list_tags(std::string_view repository) {
  std::vector<std::string> tags;
  Call call{"GET", api_path(repository, "tags/list", ""), std::string(repository)};
  call.scopes = {repository_scope(repository, "pull")};
  for (std::string next = call.url; !next.empty();) {
    call.url = next;
    HttpResponse response = send(call);
    if (!response.ok()) throw http_error("GET", call.url, response.status, response.body);
    Json j = util::parse_json(response.body, fmt::format("tag list of {}", repository));
    if (j.contains("tags") && j["tags"].is_array())
      for (const auto& tag : j["tags"]) tags.push_back(tag.get<std::string>());
    auto link = response.header("Link");
    auto target = link ? link_next(*link) : std::nullopt;
    next = target ? resolve_url(response.effective_url, *target) : "";
  }
  return tags;
}

std::vector<std::string> RegistryClient::catalog(std::size_t limit) {
  std::vector<std::string> names;
  std::size_t page = options_.page_size == 0 ? 100 : options_.page_size;
  if (limit != 0 && limit < page) page = limit;
  Call call{"GET", fmt::format("/v2/_catalog?n={}", page)};
  call.scopes = {"registry:catalog:*"};
  for (std::string next = call.url; !next.empty() && (limit == 0 || names.size() < limit);) {
    call.url = next;
    HttpResponse response = send(call);
    if (!response.ok()) throw http_error("GET", call.url, response.status, response.body);
    Json j = util::parse_json(response.body, "catalog");
    if (j.contains("repositories") && j["repositories"].is_array())
      for (const auto& name : j["repositories"]) names.push_back(name.get<std::string>());
    auto link = response.header("Link");
    auto target = link ? link_next(*link) : std::nullopt;
    next = target ? resolve_url(response.effective_url, *target) : "";
  }
  if (limit != 0 && names.size() > limit) names.resize(limit);
  return names;
}

}  // namespace kiln::registry
