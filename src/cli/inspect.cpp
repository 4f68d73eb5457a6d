// `kiln image inspect`, `kiln inspect` and `kiln history`: an image's config,
// manifest and store facts as podman prints them. Pure metadata: no user
// namespace, one index read plus the image's config and manifest blobs.
#include <iostream>

#include "archive/lookup.hpp"
#include "cli/command.hpp"
#include "cli/context.hpp"
#include "cli/format.hpp"
#include "image/config.hpp"
#include "image/inspect.hpp"
#include "image/manifest.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::cli {
namespace {

using store::ImageRecord;

OrderedJson image_object(const store::Store& store, const ImageRecord& record) {
  auto config = image::ImageConfig::parse(store.read_blob(record.config_digest));
  std::optional<image::Manifest> manifest;
  if (record.manifest_digest && store.has_blob(*record.manifest_digest))
    manifest = image::Manifest::parse(store.read_blob(*record.manifest_digest));
  image::InspectFacts facts;
  facts.id = record.id;
  if (record.manifest_digest) facts.digest = *record.manifest_digest;
  for (const auto& name : record.digests)
    if (auto at = name.rfind('@'); at != std::string::npos && util::Digest::valid(name.substr(at + 1)))
      facts.digests.push_back(util::Digest::parse(name.substr(at + 1)));
  facts.names = record.names;
  facts.names_history = record.names;
  facts.size = static_cast<std::int64_t>(record.size);
  facts.graph_driver = store.driver().value_or("overlay");
  if (record.top_layer) {
    facts.graph_driver_data["UpperDir"] = store.layer_dir(*record.top_layer).string();
    std::string lower;
    for (auto it = record.layers.rbegin() + 1; it < record.layers.rend(); ++it)
      lower += (lower.empty() ? "" : ":") + store.layer_dir(*it).string();
    if (!lower.empty()) facts.graph_driver_data["LowerDir"] = lower;
  }
  return image::inspect_json(facts, config, manifest ? &*manifest : nullptr);
}

OrderedJson container_object(const store::ContainerRecord& record) {
  OrderedJson out = OrderedJson::object();
  out["Id"] = record.id;
  out["Created"] = util::rfc3339(record.created);
  out["Image"] = std::string(record.image_id.hex());
  out["Name"] = record.name;
  out["State"] = OrderedJson::parse(record.state.dump());
  return out;
}

// Prints the objects as a JSON array (podman's 4-space indent) or the template per object.
void print_objects(const std::vector<OrderedJson>& objects, const std::string& format) {
  if (format.empty() || format == "json") {
    OrderedJson array = OrderedJson::array();
    for (const auto& object : objects) array.push_back(object);
    std::cout << array.dump(4) << "\n";
    return;
  }
  std::string out;
  for (const auto& object : objects) {
    std::string line = render_template(format, Json::parse(object.dump()));
    out += line;
    if (line.empty() || line.back() != '\n') out += "\n";
  }
  std::cout << out;
}

int inspect(const Args& args, const std::string& type) {
  if (type != "image" && type != "container" && type != "all")
    fail(ErrorKind::invalid_input, "invalid --type \"{}\": want image, container or all", type);
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  auto index = store.image_index();
  std::vector<OrderedJson> objects;
  std::vector<std::string> missing;
  for (const auto& text : args.positional()) {
    if (type != "container") {
      auto found = archive::lookup_image(*index, text, ctx.config.search_registries);
      if (found.image) {
        objects.push_back(image_object(store, *found.image));
        continue;
      }
    }
    if (type != "image") {
      if (auto container = store.find_container(text)) {
        objects.push_back(container_object(*container));
        continue;
      }
    }
    missing.push_back(text);
  }
  // podman prints what it found, then fails naming the rest.
  if (!objects.empty()) print_objects(objects, args.get_or("format", ""));
  if (!missing.empty()) {
    const char* what = type == "image" ? "image" : type == "container" ? "container" : "object";
    fail(ErrorKind::not_found, "no such {}: {}", what, fmt::join(missing, ", "));
  }
  return 0;
}

const std::vector<Option> kInspectOptions = {
    {.long_name = "format", .short_name = 'f', .arg = "FORMAT", .help = "Print with a Go template instead of JSON"},
};

const Registration kImageInspect{{"image inspect"}, [] {
  return Command{
      .name = "image inspect",
      .usage_args = "[OPTIONS] IMAGE [IMAGE...]",
      .summary = "Show an image's configuration and metadata",
      .description = "Prints a JSON array with one object per image, as podman image inspect does.",
      .options = kInspectOptions,
      .min_args = 1,
      .arg_complete = Complete::image,
      .needs_userns = false,
      .run = [](const Args& args) { return inspect(args, "image"); },
  };
}};

const Registration kInspect{{"inspect"}, [] {
  auto options = kInspectOptions;
  options.push_back({.long_name = "type", .short_name = 't', .arg = "TYPE",
                     .help = "Look for an image, a container or both", .complete = Complete::choice,
                     .choices = {"image", "container", "all"}, .default_value = "all"});
  return Command{
      .name = "inspect",
      .usage_args = "[OPTIONS] NAME [NAME...]",
      .summary = "Show details of images or containers",
      .description = "With --type all (the default) each NAME is looked up as an image first, then as a "
                     "container.",
      .options = options,
      .min_args = 1,
      .arg_complete = Complete::image,
      .needs_userns = false,
      .run = [](const Args& args) { return inspect(args, args.get_or("type", "all")); },
  };
}};

// ---- history -------------------------------------------------------------------------

constexpr std::size_t kCreatedByWidth = 45;

struct HistoryRow {
  std::string id;  // image id or "<missing>"
  std::optional<std::chrono::system_clock::time_point> created;
  std::string created_raw;
  std::string created_by;
  std::uint64_t size = 0;
  std::string comment;
  std::vector<std::string> tags;
};

// Newest first, as podman lists it. A row shows an image id when an image in the store
// ends exactly there (same top layer and as many history entries); the top row is the
// image itself.
std::vector<HistoryRow> history_rows(const store::Store& store, const store::ImageIndex& index,
                                     const ImageRecord& record, const image::ImageConfig& config) {
  std::vector<HistoryRow> rows;
  std::size_t layer = 0;
  for (std::size_t i = 0; i < config.history.size(); ++i) {
    const auto& entry = config.history[i];
    HistoryRow row;
    row.id = "<missing>";
    row.created = util::parse_rfc3339(entry.created);
    row.created_raw = entry.created;
    row.created_by = entry.created_by;
    row.comment = entry.comment;
    if (!entry.empty_layer && layer < record.layers.size()) {
      const auto& chain = record.layers[layer++];
      if (auto layer_record = store.try_layer(chain)) row.size = layer_record->size;
      else if (layer <= record.layer_blobs.size()) row.size = store.layer_size_hint(record.layer_blobs[layer - 1]);
      for (const auto& other : index.images())
        if (other.id != record.id && other.top_layer == chain && other.layers.size() == layer) {
          row.id = std::string(other.id.hex());
          row.tags = other.names;
        }
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) rows.push_back(HistoryRow{.id = "", .created = record.created});
  rows.back().id = std::string(record.id.hex());
  rows.back().tags = record.names;
  std::reverse(rows.begin(), rows.end());
  return rows;
}

int run_history(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  auto index = store.image_index();
  const std::string& text = args.positional()[0];
  auto found = archive::lookup_image(*index, text, ctx.config.search_registries);
  if (!found.image) fail(ErrorKind::not_found, "{}: image not known", text);
  auto config = image::ImageConfig::parse(store.read_blob(found.image->config_digest));
  auto rows = history_rows(store, *index, *found.image, config);

  bool no_trunc = args.flag("no-trunc");
  bool human = !args.given("human") || args.flag("human");
  auto shown_id = [&](const HistoryRow& row) {
    return no_trunc || row.id.size() != 64 ? row.id : row.id.substr(0, 12);
  };
  if (args.flag("quiet")) {
    std::string out;
    for (const auto& row : rows) out += shown_id(row) + "\n";
    std::cout << out;
    return 0;
  }
  std::string format = args.get_or("format", "");
  auto now = std::chrono::system_clock::now();
  if (format == "json") {
    Json out = Json::array();
    for (const auto& row : rows) {
      Json object = Json::object();
      object["id"] = row.id;
      object["created"] = row.created ? util::rfc3339(*row.created) : row.created_raw;
      object["createdBy"] = row.created_by;
      object["size"] = row.size;
      object["comment"] = row.comment;
      object["tags"] = row.tags.empty() ? Json() : Json(row.tags);
      out.push_back(object);
    }
    std::cout << out.dump(4) << "\n";
    return 0;
  }
  std::vector<Json> json_rows;
  for (const auto& row : rows) {
    Json object = Json::object();
    object["ID"] = shown_id(row);
    std::string created_at = row.created ? util::rfc3339(*row.created) : row.created_raw;
    std::string since = row.created ? util::human_ago(*row.created, now) : std::string();
    object["Created"] = human ? since : created_at;
    object["CreatedAt"] = created_at;
    object["CreatedSince"] = since;
    std::string by = row.created_by;
    if (!no_trunc && by.size() > kCreatedByWidth) by = by.substr(0, kCreatedByWidth - 3) + "...";
    object["CreatedBy"] = by;
    object["Size"] = human ? util::human_size(row.size) : std::to_string(row.size);
    object["Comment"] = row.comment;
    object["Tags"] = row.tags;
    json_rows.push_back(std::move(object));
  }
  Listing listing;
  listing.default_fields = {"ID", "Created", "CreatedBy", "Size", "Comment"};
  listing.headers = {{"ID", "IMAGE"}, {"Created", "CREATED"}, {"CreatedBy", "CREATED BY"},
                     {"Size", "SIZE"}, {"Comment", "COMMENT"}};
  std::cout << render_listing(json_rows, format, listing);
  return 0;
}

const Registration kHistory{{"history", "image history"}, [] {
  return Command{
      .name = "history",
      .aliases = {"image history"},
      .usage_args = "[OPTIONS] IMAGE",
      .summary = "Show the history of an image",
      .description = "One row per history entry, newest first. IMAGE shows <missing> for entries "
                     "that are not the top of an image in local storage.",
      .options = {
          {.long_name = "format", .arg = "FORMAT", .help = "Print with a Go template or as json"},
          {.long_name = "human", .short_name = 'H',
           .help = "Print sizes and dates in human-readable form (--human=false for raw values)",
           .default_value = "true"},
          {.long_name = "no-trunc", .help = "Do not truncate ids and commands"},
          {.long_name = "quiet", .short_name = 'q', .help = "Print ids only"},
      },
      .min_args = 1,
      .max_args = 1,
      .arg_complete = Complete::image,
      .needs_userns = false,
      .run = run_history,
  };
}};

}  // namespace
}  // namespace kiln::cli
