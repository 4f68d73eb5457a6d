// libcurl behind HttpClient: per-thread easy handles, TLS settings from
// HttpOptions, body callbacks, and the retry loop.
#include "registry/http.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <thread>

#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::registry {
namespace {

constexpr std::size_t kErrorBodyCap = 1 << 20;
constexpr long kLargeBuffer = 512L << 10;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

// One handle per thread: curl keeps its connection cache in the handle, so
// sequential requests of a thread reuse connections.
CURL* thread_handle() {
  thread_local std::unique_ptr<CURL, EasyDeleter> handle;
  if (!handle) {
    global_init();
    handle.reset(curl_easy_init());
    if (!handle) fail("curl_easy_init failed");
  } else {
    curl_easy_reset(handle.get());
  }
  return handle.get();
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
  CURL* handle;
  std::uint64_t sent = 0;
  bool started = false;
  std::string write_error;
  // Body bytes not yet written: curl hands them over 16 KiB at a time (CURL_MAX_WRITE_SIZE),
  // and a write(2) per piece was a tenth of a 100 MB pull's time.
  std::string pending;

  // Writes pending to the output and passes it on; streamed counts only what was written.
  void flush() {
    if (pending.empty()) return;
    util::write_all(request->out_fd, pending);
    response->streamed += pending.size();
    if (request->on_bytes) request->on_bytes(pending.data(), pending.size());
    pending.clear();
  }
};

constexpr std::size_t kWriteBatch = std::size_t{1} << 20;

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (util::starts_with(line, "HTTP/")) {
    t->response->headers.clear();  // a new response (redirect, 100 Continue) begins
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    t->response->headers.emplace_back(std::string(util::trim(line.substr(0, colon))),
                                      std::string(util::trim(line.substr(colon + 1))));
  }
  return size * count;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
  if (t->request->out_fd && status >= 200 && status < 300) {
    try {
      if (!t->started) {
        t->started = true;
        if (t->request->on_start) t->request->on_start(status);
      }
      if (t->pending.capacity() < kWriteBatch) t->pending.reserve(kWriteBatch);
      t->pending.append(data, n);
      if (t->pending.size() >= kWriteBatch - CURL_MAX_WRITE_SIZE) t->flush();
    } catch (const std::exception& e) {
      t->write_error = util::describe(e);
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    return n;
  }
  if (t->response->body.size() < kErrorBodyCap || status / 100 == 2)
    t->response->body.append(data, n);
  return n;
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const HttpRequest& r = *t->request;
  std::uint64_t left = r.body_size - t->sent;
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, size * count));
  if (want == 0) return 0;
  ssize_t n;
  do {
    n = ::pread(r.body_fd.get(), buffer, want, static_cast<off_t>(r.body_offset + t->sent));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return CURL_READFUNC_ABORT;  // a short file is a caller bug; fail the request
  t->sent += static_cast<std::uint64_t>(n);
  if (r.on_sent) r.on_sent(t->sent);
  return static_cast<std::size_t>(n);
}

bool tls_code(CURLcode code) {
  // A list rather than a switch: CURLcode has ~100 values and -Werror=switch-enum.
  static constexpr CURLcode kTls[] = {CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION,
                                      CURLE_SSL_CERTPROBLEM,   CURLE_SSL_CIPHER,
                                      CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
                                      CURLE_SSL_CLIENTCERT};
  return std::find(std::begin(kTls), std::end(kTls), code) != std::end(kTls);
}

}  // namespace

bool TransportError::transient() const noexcept {
  static constexpr CURLcode kTransient[] = {CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_SEND_ERROR,
                                            CURLE_RECV_ERROR,      CURLE_GOT_NOTHING,          CURLE_PARTIAL_FILE,
                                            CURLE_OPERATION_TIMEDOUT, CURLE_HTTP2,             CURLE_HTTP2_STREAM};
  return std::find(std::begin(kTransient), std::end(kTransient), static_cast<CURLcode>(curl_code_)) !=
         std::end(kTransient);
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (iequals(key, name)) return value;
  return std::nullopt;
}

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {
  global_init();
  if (options_.cert_dir.empty()) return;
  std::error_code ec;
  std::vector<std::filesystem::path> entries;
  for (const auto& entry : std::filesystem::directory_iterator(options_.cert_dir, ec))
    entries.push_back(entry.path());
  std::sort(entries.begin(), entries.end());
  std::string extra;
  for (const auto& path : entries) {
    if (path.extension() == ".crt") {
      extra += util::read_file(path);
      extra += '\n';
    } else if (path.extension() == ".cert") {
      auto key = path;
      key.replace_extension(".key");
      if (!std::filesystem::exists(key))
        fail(ErrorKind::invalid_input, "client certificate {} has no key {}", path.string(), key.string());
      client_cert_ = path.string();
      client_key_ = key.string();
    }
  }
  if (extra.empty()) return;
  // CURLOPT_CAINFO_BLOB replaces the default bundle, so keep the system CAs in it.
  const char* system_bundle = curl_version_info(CURLVERSION_NOW)->cainfo;
  if (system_bundle) {
    if (auto text = util::try_read_file(system_bundle)) ca_bundle_ = *text + "\n";
  }
  ca_bundle_ += extra;
}

HttpResponse HttpClient::perform_once(const HttpRequest& request) const {
  CURL* h = thread_handle();
  HttpResponse response;
  Transfer t{&request, &response, h};
  char error_buffer[CURL_ERROR_SIZE] = "";

  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
  // Blob GETs redirect to storage; curl drops our Authorization header on another host.
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  // Fewer, larger chunks for a blob: each chunk costs a write, a hash update and a progress call.
  if (request.large_body) curl_easy_setopt(h, CURLOPT_BUFFERSIZE, kLargeBuffer);
  if (!options_.tls_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!ca_bundle_.empty()) {
    curl_blob blob{const_cast<char*>(ca_bundle_.data()), ca_bundle_.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (!client_cert_.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, client_cert_.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, client_key_.c_str());
  }

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next) fail("curl_slist_append failed");
    (void)headers.release();
    headers.reset(next);
  };
  for (const auto& line : request.headers) add_header(line);
  add_header("Expect:");  // no 100-continue round trip before uploads

  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.body_fd) {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(h, CURLOPT_READDATA, &t);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body_size));
    } else {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

  CURLcode code = curl_easy_perform(h);
  // What arrived before the end (or a broken connection) is good: written before a resume.
  if (t.write_error.empty()) {
    try {
      t.flush();
    } catch (const std::exception& e) {
      t.write_error = util::describe(e);
      if (code == CURLE_OK) code = CURLE_WRITE_ERROR;
    }
  }
  if (code != CURLE_OK) {
    if (!t.write_error.empty()) fail("{} {}: {}", request.method, url_path(request.url), t.write_error);
    std::string why = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
    TransportError error(fmt::format("{} {}: {}", request.method, request.url, why), code, tls_code(code));
    error.streamed = response.streamed;
    throw error;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  char* effective = nullptr;
  curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &effective);
  response.effective_url = effective ? effective : request.url;
  return response;
}

HttpResponse HttpClient::perform(const HttpRequest& request) const {
  auto delay = options_.backoff;
  for (int attempt = 0;; ++attempt) {
    bool last = !request.retry || attempt >= options_.retries;
    try {
      HttpResponse response = perform_once(request);
      bool busy = response.status >= 500 || response.status == 429;
      if (!busy || last || response.streamed > 0) return response;
      util::debug("{} {}: {}, retrying", request.method, url_path(request.url), response.status);
    } catch (const TransportError& e) {
      if (last || !e.transient() || e.streamed > 0) throw;
      util::debug("{}, retrying", e.what());
    }
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

std::optional<std::string> link_next(std::string_view header) {
  // Link: <url>; rel="next", <url2>; rel="prev"
  for (const auto& part : util::split(header, ',')) {
    auto open = part.find('<');
    auto close = part.find('>');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    std::string params = part.substr(close + 1);
    for (const auto& param : util::split(params, ';')) {
      auto kv = util::split_once(util::trim(param), '=');
      if (!kv || util::trim(kv->first) != "rel") continue;
      std::string_view value = util::trim(kv->second);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      if (value == "next") return part.substr(open + 1, close - open - 1);
    }
  }
  return std::nullopt;
}

std::string url_origin(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  auto slash = url.find('/', scheme + 3);
  return std::string(url.substr(0, slash));
}

std::string url_path(std::string_view url) {
  auto scheme = url.find("://");
  std::size_t start = 0;
  if (scheme != std::string_view::npos) {
    start = url.find('/', scheme + 3);
    if (start == std::string_view::npos) return "/";
  }
  auto rest = url.substr(start);
  return std::string(rest.substr(0, rest.find('?')));
}

std::string resolve_url(std::string_view base, std::string_view target) {
  if (target.find("://") != std::string_view::npos) return std::string(target);
  if (util::starts_with(target, "/")) return url_origin(base) + std::string(target);
  // A relative path: beside the base's last segment.
  std::string dir(base.substr(0, base.find('?')));
  dir.erase(dir.rfind('/') + 1);
  return dir + std::string(target);
}

std::string url_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string_view status_reason(long status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace kiln::registry
