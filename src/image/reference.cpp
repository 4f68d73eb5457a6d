// Reference parsing by hand rather than by regular expression: the grammar is
// small (distribution/reference), and a hand parser can say which part is
// wrong. Parsing splits the text into domain, path, tag and digest; the
// normalisations (docker.io, library/, latest, localhost/) are applied after.
#include "image/reference.hpp"

#include <algorithm>

#include "util/error.hpp"

namespace kiln::image {
namespace {

// The distribution spec's limit on the whole name (domain/path).
constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxTagLength = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool has_upper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+
bool valid_path_component(std::string_view c) {
  std::size_t i = 0, n = c.size();
  if (n == 0 || !is_lower_alnum(c[0])) return false;
  for (;;) {
    while (i < n && is_lower_alnum(c[i])) ++i;
    if (i == n) return true;
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < n && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < n && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (i == n || !is_lower_alnum(c[i])) return false;
  }
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool valid_domain_component(std::string_view c) {
  if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
  return std::all_of(c.begin(), c.end(), [](char ch) { return is_alnum(ch) || ch == '-'; });
}

bool valid_port(std::string_view p) {
  return !p.empty() && p.size() <= 5 &&
         std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The reference split into its parts, before any normalisation.
struct Parts {
  std::string domain;  // empty when the text names no registry
  std::string path;    // as written
  std::string tag;     // empty when none
  std::optional<util::Digest> digest;
};

[[noreturn]] void invalid(std::string_view text, std::string_view why) {
  fail(ErrorKind::invalid_input, "invalid reference \"{}\": {}", text, why);
}

util::Digest parse_reference_digest(std::string_view text, std::string_view digest) {
  // digest := algorithm ":" hex; only the algorithms util::Digest knows are usable.
  auto colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0)
    invalid(text, fmt::format("invalid digest \"{}\"", digest));
  auto algorithm = digest.substr(0, colon);
  auto hex = digest.substr(colon + 1);
  if (hex.size() < 32 || !std::all_of(hex.begin(), hex.end(), is_hex))
    invalid(text, fmt::format("invalid digest \"{}\"", digest));
  if (algorithm != "sha256" && algorithm != "sha512")
    invalid(text, fmt::format("unsupported digest algorithm \"{}\"", algorithm));
  if (!util::Digest::valid(digest))
    invalid(text, fmt::format("invalid {} digest \"{}\"", algorithm, digest));
  return util::Digest::parse(digest);
}

Parts split(std::string_view text) {
  if (text.empty()) invalid(text, "empty reference");
  if (text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      }))
    invalid(text, "cannot specify 64-byte hexadecimal strings as a name");

  Parts parts;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    parts.digest = parse_reference_digest(text, rest.substr(at + 1));
    rest = rest.substr(0, at);
  }
  // A tag is after the last ':' that follows the last '/' ("host:5000/a" has none).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    auto tag = rest.substr(colon + 1);
    if (!valid_tag(tag)) invalid(text, fmt::format("invalid tag \"{}\"", tag));
    parts.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) invalid(text, "repository name is empty");

  // Docker's rule: the first component is a registry if it has '.' or ':', is
  // "localhost", or has an uppercase letter (a path component never may).
  auto first_slash = rest.find('/');
  if (first_slash != std::string_view::npos) {
    auto first = rest.substr(0, first_slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == kLocalRegistry ||
        has_upper(first)) {
      if (!valid_registry(first)) invalid(text, fmt::format("invalid registry \"{}\"", first));
      parts.domain = std::string(first);
      rest = rest.substr(first_slash + 1);
    }
  }
  if (has_upper(rest)) invalid(text, "repository name must be lowercase");
  if (rest.empty()) invalid(text, "repository name is empty");
  std::size_t start = 0;
  for (;;) {
    auto end = rest.find('/', start);
    auto component = rest.substr(start, end == std::string_view::npos ? end : end - start);
    if (!valid_path_component(component))
      invalid(text, fmt::format("invalid repository name component \"{}\"", component));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  std::size_t name_length = rest.size() + (parts.domain.empty() ? 0 : parts.domain.size() + 1);
  if (name_length > kMaxNameLength)
    invalid(text, fmt::format("repository name must not be more than {} characters", kMaxNameLength));
  parts.path = std::string(rest);
  return parts;
}

// Applies Docker's normalisation for a given registry: index.docker.io is docker.io,
// and a one-component path there lives under library/.
Reference normalize(std::string registry, std::string path, const Parts& parts) {
  Reference ref;
  if (registry == "index.docker.io") registry = std::string(kDefaultRegistry);
  if (registry == kDefaultRegistry && path.find('/') == std::string::npos) path = "library/" + path;
  ref.registry = std::move(registry);
  ref.repository = std::move(path);
  ref.explicit_registry = !parts.domain.empty();
  ref.explicit_tag = !parts.tag.empty();
  ref.digest = parts.digest;
  if (!parts.tag.empty()) ref.tag = parts.tag;
  else if (!parts.digest) ref.tag = std::string(kDefaultTag);
  return ref;
}

}  // namespace

bool valid_registry(std::string_view domain) noexcept {
  std::string_view host = domain, port;
  if (domain.starts_with('[')) {
    // [IPv6]: hex digits, ':' and '.' (for an embedded IPv4) between the brackets.
    auto close = domain.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    auto inside = domain.substr(1, close - 1);
    if (!std::all_of(inside.begin(), inside.end(), [](char c) { return is_hex(c) || c == ':' || c == '.'; }))
      return false;
    auto after = domain.substr(close + 1);
    if (after.empty()) return true;
    return after.front() == ':' && valid_port(after.substr(1));
  }
  if (auto colon = domain.find(':'); colon != std::string_view::npos) {
    host = domain.substr(0, colon);
    port = domain.substr(colon + 1);
    if (!valid_port(port)) return false;
  }
  if (host.empty()) return false;
  std::size_t start = 0;
  for (;;) {
    auto dot = host.find('.', start);
    if (!valid_domain_component(host.substr(start, dot == std::string_view::npos ? dot : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool valid_tag(std::string_view tag) noexcept {
  if (tag.empty() || tag.size() > kMaxTagLength || !is_word(tag.front())) return false;
  return std::all_of(tag.begin(), tag.end(), [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

Reference Reference::parse(std::string_view text) {
  Parts parts = split(text);
  std::string registry = parts.domain.empty() ? std::string(kDefaultRegistry) : parts.domain;
  return normalize(std::move(registry), parts.path, parts);
}

Reference Reference::parse_local(std::string_view text) {
  Parts parts = split(text);
  if (!parts.domain.empty()) return normalize(parts.domain, parts.path, parts);
  Reference ref = normalize(std::string(kLocalRegistry), parts.path, parts);
  ref.explicit_registry = false;
  return ref;
}

std::optional<Reference> Reference::try_parse(std::string_view text) noexcept {
  try {
    return parse(text);
  } catch (...) {
    return std::nullopt;
  }
}

std::string Reference::name() const { return registry + "/" + repository; }

std::string Reference::familiar_name() const {
  if (registry != kDefaultRegistry) return name();
  std::string_view repo = repository;
  if (repo.starts_with("library/") && repo.find('/', 8) == std::string_view::npos)
    repo.remove_prefix(8);
  return std::string(repo);
}

std::string Reference::str() const {
  std::string out = name();
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

std::string Reference::familiar() const {
  std::string out = familiar_name();
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

std::string Reference::tagged() const { return tag.empty() ? std::string() : name() + ":" + tag; }

std::string Reference::digested() const { return digest ? name() + "@" + digest->str() : std::string(); }

Reference Reference::with_tag(std::string_view new_tag) const {
  if (!valid_tag(new_tag)) fail(ErrorKind::invalid_input, "invalid tag \"{}\"", new_tag);
  Reference ref = *this;
  ref.tag = std::string(new_tag);
  ref.explicit_tag = true;
  ref.digest.reset();
  return ref;
}

Reference Reference::with_digest(const util::Digest& new_digest) const {
  Reference ref = *this;
  ref.tag.clear();
  ref.explicit_tag = false;
  ref.digest = new_digest;
  return ref;
}

std::vector<Reference> resolve_candidates(std::string_view text,
                                          const std::vector<std::string>& search_registries) {
  Parts parts = split(text);
  if (!parts.domain.empty()) return {normalize(parts.domain, parts.path, parts)};
  std::vector<Reference> out;
  if (search_registries.empty()) out.push_back(normalize(std::string(kDefaultRegistry), parts.path, parts));
  for (const auto& registry : search_registries) {
    Reference ref = normalize(registry, parts.path, parts);
    if (std::find(out.begin(), out.end(), ref) == out.end()) out.push_back(std::move(ref));
  }
  return out;
}

bool looks_like_id(std::string_view text) noexcept {
  if (text.starts_with("sha256:")) text.remove_prefix(7);
  return !text.empty() && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

std::optional<std::string> id_prefix(std::string_view text) {
  if (!looks_like_id(text)) return std::nullopt;
  if (text.starts_with("sha256:")) text.remove_prefix(7);
  return std::string(text);
}

}  // namespace kiln::image
