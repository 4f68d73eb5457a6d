// Challenge grammar, base64, and the Bearer token fetch with its cache.
#include "registry/auth.hpp"

#include <cctype>
#include <mutex>

#include "util/json.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::registry {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

// A cursor over the header for the auth-param grammar.
struct Scanner {
  std::string_view text;
  std::size_t pos = 0;

  void skip_space() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  }
  bool done() const { return pos >= text.size(); }
  std::string token() {
    std::size_t start = pos;
    while (pos < text.size() && token_char(text[pos])) ++pos;
    return std::string(text.substr(start, pos - start));
  }
  std::string quoted() {  // at the opening quote
    std::string out;
    for (++pos; pos < text.size() && text[pos] != '"'; ++pos) {
      if (text[pos] == '\\' && pos + 1 < text.size()) ++pos;
      out += text[pos];
    }
    ++pos;  // closing quote
    return out;
  }
};

struct CacheKey {
  std::string realm, service, scopes, user;
  auto operator<=>(const CacheKey&) const = default;
};

std::mutex g_cache_mutex;
std::map<CacheKey, Token> g_cache;

}  // namespace

std::string Challenge::param(std::string_view key) const {
  auto it = params.find(std::string(key));
  return it == params.end() ? std::string() : it->second;
}

std::vector<Challenge> parse_challenges(std::string_view header) {
  std::vector<Challenge> out;
  Scanner s{header};
  while (true) {
    s.skip_space();
    while (!s.done() && s.text[s.pos] == ',') {
      ++s.pos;
      s.skip_space();
    }
    if (s.done()) break;
    std::string scheme = s.token();
    if (scheme.empty()) {  // junk: skip to the next comma
      while (!s.done() && s.text[s.pos] != ',') ++s.pos;
      continue;
    }
    Challenge challenge{lower(scheme), {}};
    // auth-params: name = value, separated by commas; a name followed by a space and no
    // '=' starts the next challenge.
    while (true) {
      s.skip_space();
      std::size_t mark = s.pos;
      std::string name = s.token();
      s.skip_space();
      if (name.empty() || s.done() || s.text[s.pos] != '=') {
        s.pos = mark;
        break;
      }
      ++s.pos;
      s.skip_space();
      std::string value = (!s.done() && s.text[s.pos] == '"') ? s.quoted() : s.token();
      challenge.params[lower(name)] = value;
      s.skip_space();
      if (!s.done() && s.text[s.pos] == ',') ++s.pos;
    }
    out.push_back(std::move(challenge));
  }
  return out;
}

std::string base64_encode(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < data.size()) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view text) {
  std::string out;
  unsigned value = 0;
  int bits = 0;
  for (char c : text) {
    int d;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    else if (c >= '0' && c <= '9') d = c - '0' + 52;
    else if (c == '+' || c == '-') d = 62;
    else if (c == '/' || c == '_') d = 63;
    else if (c == '=' || c == '\n' || c == '\r') continue;
    else fail(ErrorKind::invalid_input, "invalid base64 character '{}'", c);
    value = (value << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xff);
    }
  }
  return out;
}

std::string basic_authorization(const Credentials& credentials) {
  return "Basic " + base64_encode(credentials.username + ":" + credentials.password);
}

std::string repository_scope(std::string_view repository, std::string_view actions) {
  return fmt::format("repository:{}:{}", repository, actions);
}

Token parse_token_response(std::string_view body, std::chrono::steady_clock::time_point now) {
  Json j = util::parse_json(body, "token response");
  Token token;
  if (j.contains("token") && j["token"].is_string()) token.value = j["token"].get<std::string>();
  if (token.value.empty() && j.contains("access_token") && j["access_token"].is_string())
    token.value = j["access_token"].get<std::string>();
  if (token.value.empty()) fail(ErrorKind::unauthorized, "token response has no token");
  long seconds = 60;
  if (j.contains("expires_in") && j["expires_in"].is_number_integer()) seconds = j["expires_in"].get<long>();
  if (seconds < 60) seconds = 60;  // the spec's minimum lifetime
  // Renew a little early so a token does not expire between check and use.
  token.expires = now + std::chrono::seconds(seconds - 10);
  return token;
}

std::string fetch_token(const HttpClient& http, const Challenge& challenge,
                        const std::vector<std::string>& scopes,
                        const std::optional<Credentials>& credentials) {
  std::string realm = challenge.param("realm");
  if (realm.empty()) fail(ErrorKind::unauthorized, "bearer challenge without realm");
  std::string service = challenge.param("service");
  std::string joined;
  for (const auto& scope : scopes) joined += scope + " ";
  CacheKey key{realm, service, joined, credentials ? credentials->username : ""};
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(g_cache_mutex);
    auto it = g_cache.find(key);
    if (it != g_cache.end() && it->second.expires > now) return it->second.value;
  }

  std::string url = realm;
  char sep = realm.find('?') == std::string::npos ? '?' : '&';
  if (!service.empty()) {
    url += fmt::format("{}service={}", sep, url_escape(service));
    sep = '&';
  }
  for (const auto& scope : scopes) {
    url += fmt::format("{}scope={}", sep, url_escape(scope));
    sep = '&';
  }
  HttpRequest request;
  request.url = url;
  if (credentials && !credentials->empty())
    request.headers.push_back("Authorization: " + basic_authorization(*credentials));
  util::debug("fetching token from {} for {}", realm, joined);
  HttpResponse response = http.perform(request);
  if (response.status == 401 || response.status == 403)
    fail(ErrorKind::unauthorized, "GET {}: {} {}", url_path(realm), response.status, status_reason(response.status));
  if (!response.ok())
    fail("GET {}: {} {}", url_path(realm), response.status, status_reason(response.status));
  Token token = parse_token_response(response.body, now);
  std::lock_guard lock(g_cache_mutex);
  g_cache[key] = token;
  return token.value;
}

void clear_token_cache() {
  std::lock_guard lock(g_cache_mutex);
  g_cache.clear();
}

}  // namespace kiln::registry
