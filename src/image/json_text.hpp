// JSON as the image formats need it: parsing that keeps key order (so a
// config we did not create can be written back with its fields where they
// were), compact output escaped as Go's encoding/json escapes it (the bytes
// containers/image and docker produce), and typed field readers whose errors
// name the document and the field.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/json.hpp"

namespace kiln::image {

/// Parses text keeping key order; throws kiln::Error(invalid_input) "<what>: invalid JSON: ...".
OrderedJson parse_ordered_json(std::string_view text, std::string_view what);
/// Compact JSON as Go's json.Marshal writes it: no spaces, '<' '>' '&' U+2028 U+2029
/// escaped as \u003c etc., invalid UTF-8 replaced by U+FFFD.
std::string go_json(const OrderedJson& value);

/// Typed reads of one field of an object; "where" names the object in errors
/// ("manifest layers[1]"). Missing and null fields read as empty unless required.
/// All throw kiln::Error(invalid_input) '<where>: field "<key>" must be <type>'.
namespace field {
/// The field, or nullptr when absent or null.
const OrderedJson* find(const OrderedJson& object, std::string_view key);
/// Throws unless value is an object: '<where> must be a JSON object'.
void require_object(const OrderedJson& value, std::string_view where);
std::string string(const OrderedJson& object, std::string_view key, std::string_view where,
                   bool required = false);
std::int64_t integer(const OrderedJson& object, std::string_view key, std::string_view where,
                     bool required = false);
bool boolean(const OrderedJson& object, std::string_view key, std::string_view where);
std::vector<std::string> strings(const OrderedJson& object, std::string_view key, std::string_view where);
std::map<std::string, std::string> string_map(const OrderedJson& object, std::string_view key,
                                              std::string_view where);
/// The keys of an object-valued field ({"80/tcp": {}} -> {"80/tcp"}), as ExposedPorts and Volumes.
std::vector<std::string> key_set(const OrderedJson& object, std::string_view key, std::string_view where);
}  // namespace field

}  // namespace kiln::image
