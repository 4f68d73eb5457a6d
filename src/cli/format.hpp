// Output for listing commands, as podman prints it: aligned tables (Go's
// tabwriter with minwidth 12, padding 2), `--format json`, and a subset of Go
// templates for `--format`: {{.Field}}, {{.A.B}}, {{json .}}, {{json .Field}},
// {{upper .F}}, {{lower .F}}, {{index .Map "key"}}, {{join .List ","}}, a leading
// "table" for a header row, and \t / \n escapes.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/json.hpp"

namespace kiln::cli {

/// Aligns tab-separated cells into columns like Go's tabwriter(minwidth 12, padding 2).
std::string align_columns(const std::vector<std::vector<std::string>>& rows);

/// Renders one template against one object; throws kiln::Error(invalid_input) for a
/// malformed template or an unknown function.
std::string render_template(std::string_view tmpl, const Json& object);

/// How a listing command prints its rows.
struct Listing {
  std::vector<std::string> default_fields;          // {"Repository", "Tag", "ID", "Created", "Size"}
  std::map<std::string, std::string> headers;      // field -> header ("ID" -> "IMAGE ID")
};

/// Prints rows to a string: format empty -> the default table; "json" -> a JSON array of
/// the rows; "table T" -> a header row then T per row; anything else -> T per row. Cells
/// separated by tabs in the template are aligned.
std::string render_listing(const std::vector<Json>& rows, std::string_view format, const Listing& listing);

/// The header for a field: listing.headers, else CamelCase -> "CAMEL CASE".
std::string header_for(std::string_view field, const Listing& listing);

}  // namespace kiln::cli
