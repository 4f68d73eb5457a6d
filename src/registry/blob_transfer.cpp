// RegistryClient's blob operations: existence checks, verified downloads with
// Range resume, and uploads (cross-repository mount, monolithic PUT, or
// POST + PATCH chunks + PUT).
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "registry/client.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::registry {

std::optional<std::uint64_t> RegistryClient::blob_exists(std::string_view repository, const util::Digest& digest) {
  Call call{"HEAD", api_path(repository, "blobs", digest.str()), std::string(repository)};
  call.scopes = {repository_scope(repository, "pull")};
  HttpResponse response = send(call);
  if (response.status == 404) return std::nullopt;
  if (!response.ok()) throw http_error("HEAD", call.url, response.status, "");
  auto length = response.header("Content-Length");
  return length ? std::strtoull(length->c_str(), nullptr, 10) : 0;
}

void RegistryClient::get_blob(std::string_view repository, const util::Digest& digest, util::Fd out,
                              const ProgressFn& progress, std::optional<std::uint64_t> expected_size) {
  util::Sha256 hasher;
  BlobStream stream;
  stream.on_bytes = [&](const char* data, std::size_t size) { hasher.update(data, size); };
  stream.on_restart = [&] { hasher = util::Sha256(); };
  stream.progress = progress;
  get_blob_stream(repository, digest, out, stream, expected_size);
  util::Digest actual = hasher.finish();
  if (actual != digest) fail(ErrorKind::corrupt, "blob {}: digest mismatch: received content has {}", digest.str(), actual.str());
}

void RegistryClient::get_blob_stream(std::string_view repository, const util::Digest& digest, util::Fd out,
                                     const BlobStream& stream, std::optional<std::uint64_t> expected_size) {
  off_t start = ::lseek(out.get(), 0, SEEK_CUR);
  if (start < 0) throw util::sys_error("lseek blob {}", digest.str());
  std::uint64_t received = 0;
  std::uint64_t total = expected_size.value_or(0);

  Call call{"GET", api_path(repository, "blobs", digest.str()), std::string(repository)};
  call.scopes = {repository_scope(repository, "pull")};
  call.out_fd = out;
  call.large_body = true;
  call.on_bytes = [&](const char* data, std::size_t size) {
    if (stream.on_bytes) stream.on_bytes(data, size);
    received += size;
    if (stream.progress) stream.progress(received, total);
  };
  for (int attempt = 0;; ++attempt) {
    call.headers.clear();
    if (received > 0) call.headers.push_back(fmt::format("Range: bytes={}-", received));
    std::uint64_t asked_from = received;
    call.on_start = [&](long status) {
      // A 200 to a Range request is the whole blob again: start over.
      if (asked_from > 0 && status != 206) {
        if (::ftruncate(out.get(), start) < 0 || ::lseek(out.get(), start, SEEK_SET) < 0)
          throw util::sys_error("rewind blob {}", digest.str());
        received = 0;
        if (stream.on_restart) stream.on_restart();
      }
    };
    try {
      HttpResponse response = send(call);
      if (response.status == 416 && expected_size && received == *expected_size) break;  // all there
      if (!response.ok()) throw http_error("GET", call.url, response.status, response.body);
      break;
    } catch (const TransportError& e) {
      if (attempt >= options_.http.retries || !e.transient()) throw;
      util::debug("{}; resuming at byte {}", e.what(), received);
      std::this_thread::sleep_for(options_.http.backoff * (1 << attempt));
    }
  }
  if (expected_size && received != *expected_size)
    fail(ErrorKind::corrupt, "blob {}: received {} bytes, expected {}", digest.str(), received, *expected_size);
}

std::string RegistryClient::start_upload(Call& call, std::string_view repository, const util::Digest& digest,
                                         std::string_view mount_from) {
  call.method = "POST";
  call.url = api_path(repository, "blobs/uploads/", "");
  if (!mount_from.empty()) {
    call.url += fmt::format("?mount={}&from={}", digest.str(), url_escape(mount_from));
    call.scopes.push_back(repository_scope(mount_from, "pull"));
  }
  HttpResponse response = send(call);
  if (response.status == 201 && !mount_from.empty()) return "";
  if (response.status != 202) throw http_error("POST", call.url, response.status, response.body);
  auto location = response.header("Location");
  if (!location || location->empty()) fail("POST {}: no Location in the answer", url_path(call.url));
  return resolve_url(response.effective_url, *location);
}

UploadResult RegistryClient::upload_blob(std::string_view repository, const util::Digest& digest, std::uint64_t size,
                                         util::Fd in, const ProgressFn& progress, std::string_view mount_from) {
  Call call{"POST", "", std::string(repository)};
  call.scopes = {repository_scope(repository, "pull,push")};
  std::string location = start_upload(call, repository, digest, mount_from);
  if (location.empty()) {
    if (progress) progress(size, size);
    return UploadResult::mounted;
  }
  auto with_digest = [&](const std::string& base) {
    return base + (base.find('?') == std::string::npos ? "?" : "&") + "digest=" + url_escape(digest.str());
  };
  call.headers = {"Content-Type: application/octet-stream"};
  call.body_fd = in;

  if (size <= options_.chunk_size) {
    call.method = "PUT";
    call.url = with_digest(location);
    call.body_offset = 0;
    call.body_size = size;
    call.on_sent = [&](std::uint64_t sent) { if (progress) progress(sent, size); };
  } else {
    call.method = "PATCH";
    call.retry = false;  // a repeated chunk would be refused (416); the caller retries the blob
    for (std::uint64_t offset = 0; offset < size;) {
      std::uint64_t n = std::min<std::uint64_t>(options_.chunk_size, size - offset);
      call.url = location;
      call.body_offset = offset;
      call.body_size = n;
      call.headers = {"Content-Type: application/octet-stream",
                      fmt::format("Content-Range: {}-{}", offset, offset + n - 1)};
      call.on_sent = [&, offset](std::uint64_t sent) { if (progress) progress(offset + sent, size); };
      HttpResponse response = send(call);
      if (response.status != 202) throw http_error("PATCH", call.url, response.status, response.body);
      if (auto next = response.header("Location"); next && !next->empty())
        location = resolve_url(response.effective_url, *next);
      offset += n;
    }
    call.method = "PUT";
    call.url = with_digest(location);
    call.body_fd = util::Fd();
    call.body_size = 0;
    call.on_sent = nullptr;
    call.retry = true;
    call.headers = {"Content-Type: application/octet-stream"};
  }
  HttpResponse response = send(call);
  if (response.status != 201) throw http_error("PUT", call.url, response.status, response.body);
  if (auto sent = response.header("Docker-Content-Digest"); sent && *sent != digest.str())
    fail(ErrorKind::corrupt, "PUT {}: registry stored {} for blob {}", url_path(call.url), *sent, digest.str());
  if (progress) progress(size, size);
  return UploadResult::uploaded;
}

}  // namespace kiln::registry
