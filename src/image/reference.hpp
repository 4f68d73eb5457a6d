// Image references ("busybox", "localhost:5000/a/b:tag@sha256:..."): parsing
// by the distribution reference grammar, Docker's normalisation (docker.io,
// library/, :latest), the short "familiar" form, podman's expansion of
// unqualified names through search registries and its localhost/ prefix for
// local-only names, and telling an image id (prefix) from a name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/digest.hpp"

namespace kiln::image {

/// Docker Hub's canonical registry name, and the registry podman gives local-only images.
inline constexpr std::string_view kDefaultRegistry = "docker.io";
inline constexpr std::string_view kLocalRegistry = "localhost";
inline constexpr std::string_view kDefaultTag = "latest";

/// A parsed, normalised image reference. tag is empty only for a digest-only reference.
struct Reference {
  std::string registry;    // "docker.io", "localhost:5000", "[::1]:5000"
  std::string repository;  // "library/busybox", "a/b"
  std::string tag;         // "latest" unless given; empty when only a digest was given
  std::optional<util::Digest> digest;
  bool explicit_registry = false;  // the text named a registry (first component a domain)
  bool explicit_tag = false;       // the text named a tag

  /// Parses and normalises as Docker does: "busybox" -> docker.io/library/busybox:latest.
  /// Throws kiln::Error(invalid_input) 'invalid reference "<text>": <why>'.
  static Reference parse(std::string_view text);
  /// Like parse, but a name without a registry lands in localhost/ as podman stores
  /// locally created images: "app" -> localhost/app:latest, "user/app" -> localhost/user/app:latest.
  static Reference parse_local(std::string_view text);
  /// Returns nullopt instead of throwing.
  static std::optional<Reference> try_parse(std::string_view text) noexcept;

  /// "docker.io/library/busybox:latest", "a.io/x:t@sha256:...", "docker.io/library/x@sha256:...".
  std::string str() const;
  /// Docker's short form: "busybox:latest", "user/app:1", "localhost/x:latest".
  std::string familiar() const;
  /// "registry/repository" without tag or digest.
  std::string name() const;
  /// familiar() of name(): "busybox", "user/app", "quay.io/a/b".
  std::string familiar_name() const;
  /// "name:tag" (empty when there is no tag) and "name@digest" (empty without digest).
  std::string tagged() const;
  std::string digested() const;
  /// A copy with the given tag and no digest / with the digest and no tag.
  Reference with_tag(std::string_view new_tag) const;
  Reference with_digest(const util::Digest& new_digest) const;

  /// Equal when they name the same thing (str() equal); the explicit_* flags do not count.
  friend bool operator==(const Reference& a, const Reference& b) {
    return a.registry == b.registry && a.repository == b.repository && a.tag == b.tag && a.digest == b.digest;
  }
};

/// podman's short-name expansion: a qualified reference yields itself; an unqualified one
/// yields one candidate per search registry in order ("busybox" with {docker.io, quay.io}
/// -> docker.io/library/busybox:latest, quay.io/busybox:latest), docker.io when the list is
/// empty. Throws like Reference::parse.
std::vector<Reference> resolve_candidates(std::string_view text,
                                          const std::vector<std::string>& search_registries);

/// True if text could be an image id or id prefix: 1..64 lowercase hex, optionally
/// after "sha256:". A store tries names first, ids second.
bool looks_like_id(std::string_view text) noexcept;
/// The hex part of an id-like text ("sha256:ab" -> "ab"); nullopt if not id-like.
std::optional<std::string> id_prefix(std::string_view text);

/// Validates one registry host[:port] (domain name, IPv4 or [IPv6]); no throw.
bool valid_registry(std::string_view domain) noexcept;
/// Validates a tag: [\w][\w.-]{0,127}.
bool valid_tag(std::string_view tag) noexcept;

}  // namespace kiln::image
