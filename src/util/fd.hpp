// File descriptors as values: Fd borrows (copyable, never closes), UniqueFd owns
// (move-only, closes on destruction). A raw fd becomes owned only through
// UniqueFd{adopt, fd} and leaves only through release().
#pragma once

#include <unistd.h>

#include <utility>

namespace kiln::util {

struct AdoptTag {};
inline constexpr AdoptTag adopt{};

/// A borrowed descriptor; -1 when empty.
class Fd {
public:
  constexpr Fd() = default;
  constexpr explicit Fd(int fd) : fd_(fd) {}
  constexpr int get() const noexcept { return fd_; }
  constexpr explicit operator bool() const noexcept { return fd_ >= 0; }

private:
  int fd_ = -1;
};

/// An owned descriptor; closes it when destroyed.
class UniqueFd {
public:
  UniqueFd() = default;
  UniqueFd(AdoptTag, int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  Fd borrow() const noexcept { return Fd(fd_); }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  operator Fd() const noexcept { return Fd(fd_); }

  /// Gives up ownership; the caller must close the result.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

}  // namespace kiln::util
