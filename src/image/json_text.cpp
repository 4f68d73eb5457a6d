// Order-keeping JSON parsing, Go-compatible compact output and typed field readers.
#include "image/json_text.hpp"

#include "util/error.hpp"

namespace kiln::image {

OrderedJson parse_ordered_json(std::string_view text, std::string_view what) {
  try {
    return OrderedJson::parse(text);
  } catch (const OrderedJson::exception& e) {
    // nlohmann's message starts with "[json.exception.parse_error.101] "; keep the rest.
    std::string detail = e.what();
    if (auto pos = detail.find("] "); pos != std::string::npos) detail = detail.substr(pos + 2);
    fail(ErrorKind::invalid_input, "{}: invalid JSON: {}", what, detail);
  }
}

std::string go_json(const OrderedJson& value) {
  std::string text = value.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
  // Outside strings compact JSON has none of these bytes, so escaping them
  // everywhere is escaping them inside strings, as Go's HTML-safe encoder does.
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else if (c == '\xe2' && i + 2 < text.size() && text[i + 1] == '\x80' &&
             (text[i + 2] == '\xa8' || text[i + 2] == '\xa9')) {
      out += text[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

namespace field {
namespace {
[[noreturn]] void wrong_type(std::string_view where, std::string_view key, std::string_view type) {
  fail(ErrorKind::invalid_input, "{}: field \"{}\" must be {}", where, key, type);
}
}  // namespace

const OrderedJson* find(const OrderedJson& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

void require_object(const OrderedJson& value, std::string_view where) {
  if (!value.is_object()) fail(ErrorKind::invalid_input, "{} must be a JSON object", where);
}

std::string string(const OrderedJson& object, std::string_view key, std::string_view where, bool required) {
  const OrderedJson* value = find(object, key);
  if (!value) {
    if (required) fail(ErrorKind::invalid_input, "{}: missing field \"{}\"", where, key);
    return {};
  }
  if (!value->is_string()) wrong_type(where, key, "a string");
  return value->get<std::string>();
}

std::int64_t integer(const OrderedJson& object, std::string_view key, std::string_view where, bool required) {
  const OrderedJson* value = find(object, key);
  if (!value) {
    if (required) fail(ErrorKind::invalid_input, "{}: missing field \"{}\"", where, key);
    return 0;
  }
  if (value->is_number_unsigned()) {
    auto u = value->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) wrong_type(where, key, "a 64-bit integer");
    return static_cast<std::int64_t>(u);
  }
  if (!value->is_number_integer()) wrong_type(where, key, "an integer");
  return value->get<std::int64_t>();
}

bool boolean(const OrderedJson& object, std::string_view key, std::string_view where) {
  const OrderedJson* value = find(object, key);
  if (!value) return false;
  if (!value->is_boolean()) wrong_type(where, key, "a boolean");
  return value->get<bool>();
}

std::vector<std::string> strings(const OrderedJson& object, std::string_view key, std::string_view where) {
  std::vector<std::string> out;
  const OrderedJson* value = find(object, key);
  if (!value) return out;
  if (!value->is_array()) wrong_type(where, key, "an array of strings");
  for (const auto& item : *value) {
    if (!item.is_string()) wrong_type(where, key, "an array of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> string_map(const OrderedJson& object, std::string_view key,
                                              std::string_view where) {
  std::map<std::string, std::string> out;
  const OrderedJson* value = find(object, key);
  if (!value) return out;
  if (!value->is_object()) wrong_type(where, key, "an object of strings");
  for (const auto& [k, v] : value->items()) {
    if (!v.is_string()) wrong_type(where, key, "an object of strings");
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

std::vector<std::string> key_set(const OrderedJson& object, std::string_view key, std::string_view where) {
  std::vector<std::string> out;
  const OrderedJson* value = find(object, key);
  if (!value) return out;
  if (!value->is_object()) wrong_type(where, key, "an object");
  for (const auto& [k, v] : value->items()) out.push_back(k);
  return out;
}

}  // namespace field
}  // namespace kiln::image
