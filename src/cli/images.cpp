// `kiln images` (image ls), `kiln tag` and `kiln rmi` (image rm): the image
// index as podman shows and edits it. Listing reads the index once (one file,
// one parse) and never enters the user namespace, so it stays fast with
// thousands of images; rmi enters it because removed layers hold files owned
// by subordinate ids.
#include <fnmatch.h>

#include <algorithm>
#include <iostream>
#include <set>

#include "archive/lookup.hpp"
#include "cli/command.hpp"
#include "cli/context.hpp"
#include "cli/format.hpp"
#include "image/inspect.hpp"
#include "image/reference.hpp"
#include "runtime/container_record.hpp"
#include "runtime/lifecycle.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::cli {
namespace {

using store::ImageRecord;

// One row of the listing: an image under one of its names (or <none>).
struct Row {
  const ImageRecord* image;
  std::string repository = "<none>";
  std::string tag = "<none>";
  std::string name;  // the stored name, empty for a dangling row
};

// podman's reference filter: a glob (Go's path.Match: '*' stops at '/') against the
// stored name, its familiar form, and every trailing part at a '/' boundary, each with
// and without the tag; a pattern without a tag matches any tag.
bool reference_matches(const std::string& pattern, const std::string& name) {
  auto ref = image::Reference::try_parse(name);
  if (!ref) return false;
  std::vector<std::string> forms{ref->name(), ref->familiar_name()};
  std::string repo = ref->name();
  for (size_t slash = repo.find('/'); slash != std::string::npos; slash = repo.find('/', slash + 1))
    forms.push_back(repo.substr(slash + 1));
  for (const auto& form : forms) {
    if (::fnmatch(pattern.c_str(), form.c_str(), FNM_PATHNAME) == 0) return true;
    if (!ref->tag.empty() &&
        ::fnmatch(pattern.c_str(), (form + ":" + ref->tag).c_str(), FNM_PATHNAME) == 0)
      return true;
  }
  return false;
}

struct Filters {
  std::optional<bool> dangling;
  std::vector<std::string> references;
};

Filters parse_filters(const std::vector<std::string>& specs) {
  Filters out;
  for (const auto& spec : specs) {
    auto kv = util::split_once(spec, '=');
    if (!kv) fail(ErrorKind::invalid_input, "invalid filter \"{}\": want KEY=VALUE", spec);
    auto& [key, value] = *kv;
    if (key == "dangling") {
      if (value != "true" && value != "false")
        fail(ErrorKind::invalid_input, "invalid filter \"{}\": dangling wants true or false", spec);
      out.dangling = value == "true";
    } else if (key == "reference") {
      out.references.push_back(value);
    } else {
      fail(ErrorKind::invalid_input, "invalid filter \"{}\": unsupported key \"{}\" (want dangling or reference)",
           spec, key);
    }
  }
  return out;
}

std::string display_id(const ImageRecord& image, bool no_trunc) {
  return no_trunc ? image.id.str() : image.id.short_hex();
}

std::string manifest_digest(const ImageRecord& image) {
  return image.manifest_digest ? image.manifest_digest->str() : std::string("<none>");
}

// The template fields podman offers for `images --format`.
Json row_json(const Row& row, bool no_trunc, std::chrono::system_clock::time_point now) {
  const ImageRecord& image = *row.image;
  Json out = Json::object();
  out["ID"] = display_id(image, no_trunc);
  out["Id"] = std::string(image.id.hex());
  out["Repository"] = row.repository;
  out["Tag"] = row.tag;
  out["Digest"] = manifest_digest(image);
  out["Size"] = util::human_size(image.size);
  out["VirtualSize"] = util::human_size(image.size);
  out["SharedSize"] = "0 B";
  out["Created"] = util::human_ago(image.created, now);
  out["CreatedSince"] = util::human_ago(image.created, now);
  out["CreatedAt"] = util::rfc3339(image.created);
  out["CreatedTime"] = util::rfc3339(image.created);
  out["Names"] = image.names;
  out["Dangling"] = image.names.empty();
  out["ReadOnly"] = false;
  out["IsReadOnly"] = "false";
  return out;
}

// `--format json`: podman's ImageSummary, one object per image.
Json summary_json(const ImageRecord& image, std::size_t containers) {
  Json out = Json::object();
  out["Id"] = std::string(image.id.hex());
  out["ParentId"] = "";
  Json tags = Json::array();
  for (const auto& tag : image::repo_tags(image.names)) tags.push_back(tag);
  out["RepoTags"] = tags.empty() ? Json() : tags;
  std::vector<util::Digest> digests;
  if (image.manifest_digest) digests.push_back(*image.manifest_digest);
  Json repo_digests = Json::array();
  for (const auto& d : image::repo_digests(image.names, digests)) repo_digests.push_back(d);
  for (const auto& d : image.digests)
    if (std::find(repo_digests.begin(), repo_digests.end(), d) == repo_digests.end()) repo_digests.push_back(d);
  out["RepoDigests"] = repo_digests;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(image.created.time_since_epoch()).count();
  out["Created"] = secs;
  out["Size"] = image.size;
  out["SharedSize"] = 0;
  out["VirtualSize"] = image.size;
  out["Labels"] = Json();  // labels live in the config; listing does not read configs
  out["Containers"] = containers;
  out["Names"] = image.names.empty() ? Json() : Json(image.names);
  out["Digest"] = image.manifest_digest ? image.manifest_digest->str() : std::string();
  out["History"] = image.names.empty() ? Json() : Json(image.names);
  out["CreatedAt"] = util::rfc3339(image.created);
  return out;
}

int run_images(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  auto index = store.image_index();
  Filters filters = parse_filters(args.all("filter"));
  if (!args.positional().empty()) filters.references.push_back(args.positional()[0]);
  bool no_trunc = args.flag("no-trunc");

  std::vector<Row> rows;
  for (const auto& image : index->images()) {
    bool dangling = image.names.empty();
    if (filters.dangling && *filters.dangling != dangling) continue;
    if (dangling) {
      if (filters.references.empty()) rows.push_back(Row{&image});
      continue;
    }
    for (const auto& name : image.names) {
      bool wanted = std::all_of(filters.references.begin(), filters.references.end(),
                                [&](const std::string& p) { return reference_matches(p, name); });
      if (!wanted) continue;
      Row row{&image};
      row.name = name;
      if (auto ref = image::Reference::try_parse(name)) {
        row.repository = ref->name();
        if (!ref->tag.empty()) row.tag = ref->tag;
      } else {
        row.repository = name;
      }
      rows.push_back(std::move(row));
    }
  }

  std::string sort = args.get_or("sort", "created");
  auto key = [&](const Row& a, const Row& b) {
    if (sort == "created") return a.image->created > b.image->created;  // newest first
    if (sort == "id") return a.image->id < b.image->id;
    if (sort == "repository") return std::tie(a.repository, a.tag) < std::tie(b.repository, b.tag);
    if (sort == "tag") return a.tag < b.tag;
    if (sort == "size") return a.image->size < b.image->size;
    return false;
  };
  if (sort != "created" && sort != "id" && sort != "repository" && sort != "tag" && sort != "size")
    fail(ErrorKind::invalid_input, "invalid option for --sort \"{}\": want created, id, repository, size or tag",
         sort);
  std::stable_sort(rows.begin(), rows.end(), key);

  std::string format = args.get_or("format", "");
  if (args.flag("quiet")) {
    std::set<util::Digest> seen;
    std::string out;
    for (const auto& row : rows)
      if (seen.insert(row.image->id).second) out += display_id(*row.image, no_trunc) + "\n";
    std::cout << out;
    return 0;
  }
  if (format == "json") {
    std::map<util::Digest, std::size_t> containers;
    for (const auto& container : store.list_containers()) ++containers[container.image_id];
    Json out = Json::array();
    std::set<util::Digest> seen;
    for (const auto& row : rows)
      if (seen.insert(row.image->id).second) out.push_back(summary_json(*row.image, containers[row.image->id]));
    std::cout << out.dump(4) << "\n";
    return 0;
  }

  Listing listing;
  listing.default_fields = {"Repository", "Tag"};
  if (args.flag("digests")) listing.default_fields.push_back("Digest");
  for (const char* field : {"ID", "Created", "Size"}) listing.default_fields.push_back(field);
  listing.headers = {{"ID", "IMAGE ID"}, {"Repository", "REPOSITORY"}, {"Tag", "TAG"},
                     {"Digest", "DIGEST"}, {"Created", "CREATED"}, {"Size", "SIZE"}};
  if (format.empty() && args.flag("noheading")) {
    for (size_t i = 0; i < listing.default_fields.size(); ++i)
      format += (i ? "\t" : "") + fmt::format("{{{{.{}}}}}", listing.default_fields[i]);
  } else if (args.flag("noheading") && format.starts_with("table")) {
    format = std::string(util::trim(std::string_view(format).substr(5)));
  }
  auto now = std::chrono::system_clock::now();
  std::vector<Json> json_rows;
  json_rows.reserve(rows.size());
  for (const auto& row : rows) json_rows.push_back(row_json(row, no_trunc, now));
  std::cout << render_listing(json_rows, format, listing);
  return 0;
}

const Registration kImages{{"image ls", "images", "image list"}, [] {
  return Command{
      .name = "image ls",
      .aliases = {"images", "image list"},
      .usage_args = "[OPTIONS] [IMAGE]",
      .summary = "List images in local storage",
      .description = "One row per name; an image without a name shows as <none> <none>. "
                     "IMAGE limits the list like --filter reference=IMAGE.",
      .options = {
          {.long_name = "all", .short_name = 'a', .help = "Show all images (intermediate ones too)"},
          {.long_name = "digests", .help = "Show the manifest digest of each image"},
          {.long_name = "filter", .short_name = 'f', .arg = "FILTER",
           .help = "Filter output: dangling=true|false, reference=PATTERN", .repeatable = true},
          {.long_name = "format", .arg = "FORMAT", .help = "Print with a Go template or as json"},
          {.long_name = "noheading", .short_name = 'n', .help = "Do not print the header row"},
          {.long_name = "no-trunc", .help = "Print full image ids"},
          {.long_name = "quiet", .short_name = 'q', .help = "Print image ids only"},
          {.long_name = "sort", .arg = "FIELD", .help = "Sort the rows by this field",
           .complete = Complete::choice, .choices = {"created", "id", "repository", "size", "tag"},
           .default_value = "created"},
      },
      .max_args = 1,
      .arg_complete = Complete::image,
      .needs_userns = false,
      .run = run_images,
  };
}};

// ---- tag ---------------------------------------------------------------------------

int run_tag(const Args& args) {
  Context ctx = Context::resolve(args.global());
  // Names are checked before anything is looked up or written.
  std::vector<std::string> targets;
  for (size_t i = 1; i < args.positional().size(); ++i)
    targets.push_back(archive::normalize_new_name(args.positional()[i]));
  auto store = store::Store::open(ctx.root);
  const std::string& source = args.positional()[0];
  auto index = store.image_index();
  auto found = archive::lookup_image(*index, source, ctx.config.search_registries);
  if (!found.image) fail(ErrorKind::not_found, "{}: image not known", source);
  util::Digest id = found.image->id;
  for (const auto& target : targets) store.tag(id, target);
  return 0;
}

const Registration kTag{{"tag", "image tag"}, [] {
  return Command{
      .name = "tag",
      .aliases = {"image tag"},
      .usage_args = "IMAGE TARGET [TARGET...]",
      .summary = "Add names to a local image",
      .description = "A target without a registry is stored under localhost/, without a tag as :latest. "
                     "A name another image had moves to this one.",
      .min_args = 2,
      .arg_complete = Complete::image,
      .needs_userns = false,
      .run = run_tag,
  };
}};

// ---- rmi -----------------------------------------------------------------------------

constexpr int kExitNoSuchImage = 1;
constexpr int kExitImageInUse = 2;
constexpr int kExitFailed = 125;

void print_removed(const store::RemovedImage& removed) {
  for (const auto& name : removed.untagged) std::cout << "Untagged: " << name << "\n";
  std::cout << "Deleted: " << removed.id.hex() << "\n";
}

// rmi --force: the image's containers that are not running go first, as podman's do.
// A running one stays, and removing the image then fails naming it (exit 2).
void remove_stopped_containers_of(store::Store& store, const util::Digest& image_id) {
  for (auto& container : store.list_containers()) {
    if (container.image_id != image_id) continue;
    auto record = runtime::reconcile(store, container);
    if (!record || runtime::state_of(*record).status == runtime::ContainerStatus::running) continue;
    runtime::remove_container(store, *record, true);
  }
}

int run_rmi(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  bool force = args.flag("force");
  bool all = args.flag("all");
  if (all && !args.positional().empty())
    fail(ErrorKind::invalid_input, "when using the --all switch, you may not pass any images names or IDs");
  if (!all && args.positional().empty()) fail(ErrorKind::invalid_input, "image name or ID must be specified");

  bool missing = false, in_use = false, other = false;
  auto report = [&](const std::exception& e) {
    std::cerr << "kiln: " << util::describe(e) << "\n";
    switch (util::kind_of(e)) {
      case ErrorKind::not_found: missing = true; break;
      case ErrorKind::conflict: in_use = true; break;
      case ErrorKind::generic:
      case ErrorKind::invalid_input:
      case ErrorKind::unauthorized:
      case ErrorKind::corrupt:
      case ErrorKind::not_executable:
      case ErrorKind::command_not_found: other = true; break;
    }
  };

  if (all) {
    for (const auto& image : store.list_images()) {
      try {
        if (force) remove_stopped_containers_of(store, image.id);
        print_removed(store.remove_image(image.id));
      } catch (const std::exception& e) {
        report(e);
      }
    }
  }
  for (const auto& text : args.positional()) {
    try {
      auto index = store.image_index();
      auto found = archive::lookup_image(*index, text, ctx.config.search_registries);
      if (!found.image) fail(ErrorKind::not_found, "{}: image not known", text);
      const ImageRecord& image = *found.image;
      if (!found.matched_name.empty() && image.names.size() > 1) {
        // One of several names: only that name goes.
        store.untag(found.matched_name);
        std::cout << "Untagged: " << found.matched_name << "\n";
        continue;
      }
      if (found.matched_name.empty() && image.names.size() > 1 && !force)
        fail(ErrorKind::conflict,
             "unable to delete image \"{}\" by ID with more than one tag ([{}]): please force removal",
             image.id.hex(), fmt::join(image.names, " "));
      if (force) remove_stopped_containers_of(store, image.id);
      print_removed(store.remove_image(image.id));
    } catch (const std::exception& e) {
      report(e);
    }
  }
  if (other) return kExitFailed;
  if (in_use) return kExitImageInUse;
  if (missing) return kExitNoSuchImage;
  return 0;
}

const Registration kRmi{{"image rm", "rmi"}, [] {
  return Command{
      .name = "image rm",
      .aliases = {"rmi"},
      .usage_args = "[OPTIONS] IMAGE [IMAGE...]",
      .summary = "Remove one or more local images",
      .description = "Removing one of several names of an image only untags it. Layers another image "
                     "uses stay. Exit status: 0 on success, 1 when an image does not exist, 2 when one "
                     "is in use by a container, 125 for other failures; every image named is tried.",
      .options = {
          {.long_name = "all", .short_name = 'a', .help = "Remove all images"},
          {.long_name = "force", .short_name = 'f',
           .help = "Remove an image by id even when it has several names, and its stopped containers"},
      },
      .arg_complete = Complete::image,
      .run = run_rmi,
  };
}};

}  // namespace
}  // namespace kiln::cli
