// Content digests ("sha256:<64 hex>") and an incremental SHA-256 (OpenSSL EVP).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "util/fd.hpp"

namespace kiln::util {

/// A validated digest "algorithm:hex". Only sha256 is produced; sha512 is parsed.
class Digest {
public:
  Digest() = default;
  /// Parses "sha256:<64 lowercase hex>"; throws kiln::Error(invalid_input) otherwise.
  static Digest parse(std::string_view text);
  /// Like parse, but returns false instead of throwing.
  static bool valid(std::string_view text) noexcept;
  static Digest sha256_hex(std::string_view hex) { return parse("sha256:" + std::string(hex)); }

  const std::string& str() const noexcept { return text_; }
  std::string_view algorithm() const noexcept;
  std::string_view hex() const noexcept;
  /// The first 12 hex digits, as `images` prints ids.
  std::string short_hex() const { return std::string(hex().substr(0, 12)); }
  bool empty() const noexcept { return text_.empty(); }

  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;

private:
  std::string text_;
};

/// Incremental SHA-256.
class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  /// Finishes the hash; the object must not be updated afterwards.
  Digest finish();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest sha256_of(std::string_view data);
/// Hashes a descriptor from its current offset to EOF.
Digest sha256_of_fd(Fd fd);
Digest sha256_of_file(const std::filesystem::path& path);

}  // namespace kiln::util

template <>
struct std::hash<kiln::util::Digest> {
  std::size_t operator()(const kiln::util::Digest& d) const noexcept {
    return std::hash<std::string>{}(d.str());
  }
};
