// A small HTTP client over libcurl easy handles for the registry code: one
// request, one response, TLS with the system CAs plus a containers-certs.d
// style directory, redirects (curl never forwards a custom Authorization
// header to another host), timeouts, and retries with backoff on transient
// failures. Bodies come from memory or a descriptor; response bodies of a 2xx
// answer can be streamed into a descriptor with a callback per chunk.
// Thread-safe: each thread keeps its own easy handle (and its connections).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln::registry {

/// Transport settings shared by every request of one client.
struct HttpOptions {
  bool tls_verify = true;
  /// A directory as /etc/containers/certs.d/<host>/: *.crt are extra CAs, *.cert with
  /// the *.key of the same stem a client certificate. Empty: none.
  std::filesystem::path cert_dir;
  std::chrono::seconds connect_timeout{30};
  /// A transfer slower than 1 byte/s for this long is aborted (and retried).
  std::chrono::seconds stall_timeout{60};
  /// Extra attempts after a transient failure (connection refused/reset, 5xx, 429).
  int retries = 3;
  std::chrono::milliseconds backoff{250};
  std::string user_agent = "kiln/" KILN_VERSION;
};

/// Called with each chunk of a streamed 2xx response body, after it was written.
using BytesFn = std::function<void(const char* data, std::size_t size)>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  /// "Name: value" lines.
  std::vector<std::string> headers;
  /// Request body from memory (ignored when body_fd is set).
  std::string body;
  /// Request body from a descriptor: body_size bytes read with pread from body_offset,
  /// so a retry re-reads the same bytes.
  util::Fd body_fd;
  std::uint64_t body_offset = 0;
  std::uint64_t body_size = 0;
  /// Streams a 2xx response body here instead of into HttpResponse::body.
  util::Fd out_fd;
  BytesFn on_bytes;
  /// Called once with the status before the first streamed byte of a 2xx body, so a
  /// caller resuming with Range can tell 206 from a full 200 answer.
  std::function<void(long status)> on_start;
  /// Called with the bytes of body_fd sent so far in this attempt.
  std::function<void(std::uint64_t sent)> on_sent;
  /// Retry transient failures (only while nothing was streamed to out_fd).
  bool retry = true;
  /// A large streamed body (a blob): read it with a bigger receive buffer.
  bool large_body = false;
};

struct HttpResponse {
  long status = 0;
  /// Headers of the final response (after redirects), names as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The body, unless streamed; capped at 1 MiB for non-2xx answers.
  std::string body;
  std::string effective_url;
  /// Bytes streamed to out_fd.
  std::uint64_t streamed = 0;

  /// The first header with that name (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
  bool ok() const noexcept { return status >= 200 && status < 300; }
};

/// A failure below HTTP: DNS, connect, TLS, reset, timeout. kind generic;
/// tls() tells a certificate or handshake problem.
class TransportError : public Error {
public:
  TransportError(std::string message, int curl_code, bool tls)
      : Error(std::move(message)), curl_code_(curl_code), tls_(tls) {}
  int curl_code() const noexcept { return curl_code_; }
  bool tls() const noexcept { return tls_; }
  /// Bytes that reached out_fd before the failure.
  std::uint64_t streamed = 0;
  /// Worth another attempt: refused, reset, timeout, partial transfer.
  bool transient() const noexcept;

private:
  int curl_code_;
  bool tls_;
};

/// Performs requests with the given options; cheap to copy.
class HttpClient {
public:
  HttpClient() = default;
  explicit HttpClient(HttpOptions options);

  /// Sends the request and returns any HTTP answer (4xx/5xx included, after the
  /// retries for 5xx/429 ran out). Throws TransportError when no answer came.
  HttpResponse perform(const HttpRequest& request) const;

  const HttpOptions& options() const noexcept { return options_; }

private:
  HttpResponse perform_once(const HttpRequest& request) const;

  HttpOptions options_;
  std::string ca_bundle_;  // system CAs + cert_dir/*.crt, when cert_dir has any
  std::string client_cert_, client_key_;
};

/// The "next" target of an RFC 8288 Link header ('</v2/_catalog?last=b&n=2>; rel="next"'),
/// or nullopt.
std::optional<std::string> link_next(std::string_view header);
/// Resolves a Location or Link target against the URL of the request that returned it.
std::string resolve_url(std::string_view base, std::string_view target);
/// "scheme://host[:port]" of a URL, and its path (without query).
std::string url_origin(std::string_view url);
std::string url_path(std::string_view url);
/// Percent-encodes a query value.
std::string url_escape(std::string_view text);
/// The reason phrase for a status ("Not Found"), "" if unknown.
std::string_view status_reason(long status);

}  // namespace kiln::registry
