// Rendering and classification of (nested) errors.
#include "util/error.hpp"

namespace kiln {

std::string Error::describe() const {
  if (where_.file.empty()) return what();
  if (where_.line <= 0) return fmt::format("{}: {}", where_.file, what());
  if (where_.column <= 0) return fmt::format("{}:{}: {}", where_.file, where_.line, what());
  return fmt::format("{}:{}:{}: {}", where_.file, where_.line, where_.column, what());
}

namespace util {
namespace {

// A context layer: its own message plus the kind of what it wraps, so that
// kind_of() keeps working after rethrow_with().
class ContextError : public Error {
public:
  ContextError(std::string message, ErrorKind kind) : Error(std::move(message), kind) {}
};

std::string one(const std::exception& e) {
  if (auto* k = dynamic_cast<const Error*>(&e)) return k->describe();
  return e.what();
}

void walk(const std::exception& e, std::string& out) {
  std::string part = one(e);
  if (!part.empty()) {
    if (!out.empty()) out += ": ";
    out += part;
  }
  try {
    std::rethrow_if_nested(e);
  } catch (const std::exception& inner) {
    walk(inner, out);
  } catch (...) {
    out += out.empty() ? "unknown error" : ": unknown error";
  }
}

}  // namespace

std::string describe(const std::exception& e) {
  std::string out;
  walk(e, out);
  return out;
}

std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return describe(x);
  } catch (...) {
    return "unknown error";
  }
}

ErrorKind kind_of(const std::exception& e) {
  ErrorKind kind = ErrorKind::generic;
  if (auto* k = dynamic_cast<const Error*>(&e)) kind = k->kind();
  if (auto* s = dynamic_cast<const std::system_error*>(&e);
      s && s->code().category() == std::generic_category() && s->code().value() == ENOENT)
    kind = ErrorKind::not_found;
  try {
    std::rethrow_if_nested(e);
  } catch (const std::exception& inner) {
    ErrorKind deeper = kind_of(inner);
    if (deeper != ErrorKind::generic) kind = deeper;
  } catch (...) {
  }
  return kind;
}

bool is_not_found(const std::exception& e) { return kind_of(e) == ErrorKind::not_found; }

int errno_of(const std::exception& e) {
  int code = 0;
  if (auto* s = dynamic_cast<const std::system_error*>(&e)) code = s->code().value();
  try {
    std::rethrow_if_nested(e);
  } catch (const std::exception& inner) {
    if (int deeper = errno_of(inner)) code = deeper;
  } catch (...) {
  }
  return code;
}

void rethrow_with_message(std::string context) {
  ErrorKind kind = ErrorKind::generic;
  try {
    throw;
  } catch (const std::exception& e) {
    kind = kind_of(e);
  } catch (...) {
  }
  std::throw_with_nested(ContextError(std::move(context), kind));
}

}  // namespace util
}  // namespace kiln
