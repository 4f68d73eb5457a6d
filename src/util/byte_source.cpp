// FdSource (see byte_source.hpp).
#include "util/byte_source.hpp"

#include <unistd.h>

#include <cerrno>

#include "util/error.hpp"

namespace kiln::util {

std::string_view FdSource::next() {
  for (;;) {
    ssize_t n = ::read(fd_.get(), buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("read layer stream");
    return {buffer_.data(), static_cast<std::size_t>(n)};
  }
}

}  // namespace kiln::util
