// Registry authentication: parsing WWW-Authenticate challenges (Bearer and
// Basic, RFC 7235 grammar), fetching Bearer tokens from the realm the
// registry names (with Basic credentials when we have them), and a
// process-wide token cache keyed by realm, service, scope and user.
// Credentials are never logged, not even at debug level.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry/http.hpp"

namespace kiln::registry {

/// A user name and password (or identity token as password).
struct Credentials {
  std::string username;
  std::string password;
  bool empty() const noexcept { return username.empty() && password.empty(); }
};

/// One challenge of a WWW-Authenticate header.
struct Challenge {
  std::string scheme;  // lower case: "bearer", "basic"
  std::map<std::string, std::string> params;  // keys lower case: realm, service, scope, error

  /// The parameter value, "" if absent.
  std::string param(std::string_view key) const;
};

/// Parses all challenges of a WWW-Authenticate value ('Bearer realm="https://a/token",
/// service="a",scope="repository:x:pull", Basic realm="r"'); malformed parts are skipped.
std::vector<Challenge> parse_challenges(std::string_view header);

/// "Basic <base64(user:pass)>".
std::string basic_authorization(const Credentials& credentials);
std::string base64_encode(std::string_view data);
/// Decodes standard base64 (padding optional); throws kiln::Error(invalid_input).
std::string base64_decode(std::string_view text);

/// "repository:<repo>:<actions>" as the token protocol wants it.
std::string repository_scope(std::string_view repository, std::string_view actions);

/// A token server answer: "token" (or "access_token"), lifetime "expires_in" (default 60 s).
struct Token {
  std::string value;
  std::chrono::steady_clock::time_point expires;
};

/// Parses a token response body; throws kiln::Error naming what is missing.
Token parse_token_response(std::string_view body,
                           std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

/// Returns a cached, unexpired token for this challenge and scopes or fetches one:
/// GET realm?service=..&scope=..&scope=.. with Basic credentials when given.
/// Throws kiln::Error(unauthorized) when the token server refuses the credentials.
std::string fetch_token(const HttpClient& http, const Challenge& challenge,
                        const std::vector<std::string>& scopes,
                        const std::optional<Credentials>& credentials);

/// Forgets cached tokens (tests, logout).
void clear_token_cache();

}  // namespace kiln::registry
