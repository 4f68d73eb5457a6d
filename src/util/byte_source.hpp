// Byte streams read chunk by chunk without copying: ByteSource is what a reader
// (the layer extractor) pulls from; FdSource reads a descriptor in large blocks.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "util/fd.hpp"

namespace kiln::util {

class ByteSource {
public:
  virtual ~ByteSource() = default;
  /// The next chunk, valid until the next call; empty at the end. Throws on a read error.
  virtual std::string_view next() = 0;
};

/// Reads a descriptor (not owned) sequentially, in large blocks.
class FdSource : public ByteSource {
public:
  explicit FdSource(Fd fd, std::size_t block = 1 << 20) : fd_(fd), buffer_(block) {}
  /// Throws std::system_error when read(2) fails.
  std::string_view next() override;

private:
  Fd fd_;
  std::vector<char> buffer_;
};

}  // namespace kiln::util
