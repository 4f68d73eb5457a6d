// SHA-256 through nettle (no library initialisation: OpenSSL's EVP interface
// loaded its configuration and providers on first use, about 5 M instructions,
// as much as the rest of a `kiln run`), and digest string validation.
#include "util/digest.hpp"

#include <nettle/sha2.h>
#include <unistd.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::util {

namespace {
bool is_lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}
}  // namespace

bool Digest::valid(std::string_view text) noexcept {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  auto algo = text.substr(0, colon);
  auto hex = text.substr(colon + 1);
  if (algo == "sha256") return hex.size() == 64 && is_lower_hex(hex);
  if (algo == "sha512") return hex.size() == 128 && is_lower_hex(hex);
  return false;
}

Digest Digest::parse(std::string_view text) {
  if (!valid(text)) fail(ErrorKind::invalid_input, "invalid digest \"{}\"", text);
  Digest d;
  d.text_ = std::string(text);
  return d;
}

std::string_view Digest::algorithm() const noexcept {
  std::string_view t = text_;
  return t.substr(0, t.find(':'));
}

std::string_view Digest::hex() const noexcept {
  std::string_view t = text_;
  auto colon = t.find(':');
  return colon == std::string_view::npos ? std::string_view{} : t.substr(colon + 1);
}

struct Sha256::Impl {
  sha256_ctx ctx{};
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) { sha256_init(&impl_->ctx); }
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t size) {
  sha256_update(&impl_->ctx, size, static_cast<const std::uint8_t*>(data));
}

Digest Sha256::finish() {
  std::uint8_t out[SHA256_DIGEST_SIZE];
  unsigned int len = SHA256_DIGEST_SIZE;
  sha256_digest(&impl_->ctx, SHA256_DIGEST_SIZE, out);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[out[i] >> 4];
    hex += kHex[out[i] & 15];
  }
  return Digest::sha256_hex(hex);
}

Digest sha256_of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

Digest sha256_of_fd(Fd fd) {
  Sha256 h;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw sys_error("read");
    }
    if (n == 0) break;
    h.update(buf, static_cast<size_t>(n));
  }
  return h.finish();
}

Digest sha256_of_file(const std::filesystem::path& path) {
  auto fd = open_read(path);
  try {
    return sha256_of_fd(fd);
  } catch (...) {
    rethrow_with("hash {}", path.string());
  }
}

}  // namespace kiln::util
