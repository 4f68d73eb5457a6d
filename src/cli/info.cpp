// `kiln info` (host, id mappings, store, version), `kiln system check` and `kiln system migrate`
// (the store's own verification and repair; stopping the user namespace holder).
#include <sys/utsname.h>
#include <unistd.h>

#include <iostream>

#include "cli/command.hpp"
#include "cli/context.hpp"
#include "cli/format.hpp"
#include "image/platform.hpp"
#include "store/store.hpp"
#include "userns/holder.hpp"
#include "userns/userns.hpp"
#include "util/error.hpp"

namespace kiln::cli {
namespace {

// What the id mapping means for containers, in words (`kiln info` is read by people).
constexpr const char* kSingleIdNote =
    "single-id (no subuid range, only your own uid and gid are mapped, as root); in containers the chown "
    "family of syscalls succeeds as in a fakeroot and files stay owned by you";
constexpr const char* kRangeNote = "subuid range (container ids 1 and up map to your subordinate ids); chown works";

OrderedJson ranges_json(const std::vector<userns::IdRange>& ranges) {
  OrderedJson out = OrderedJson::array();
  for (const auto& range : ranges) {
    OrderedJson entry = OrderedJson::object();
    entry["container_id"] = range.container_id;
    entry["host_id"] = range.host_id;
    entry["size"] = range.size;
    out.push_back(std::move(entry));
  }
  return out;
}

OrderedJson info_json(const Context& ctx) {
  OrderedJson host = OrderedJson::object();
  auto platform = image::host_platform();
  host["arch"] = platform.architecture;
  host["os"] = platform.os;
  struct utsname uts;
  host["kernel"] = ::uname(&uts) == 0 ? std::string(uts.release) : std::string();
  host["rootless"] = ctx.rootless;
  if (ctx.rootless) {
    auto map = userns::planned_map_for_invoking_user();
    OrderedJson mappings = OrderedJson::object();
    mappings["uidmap"] = ranges_json(map.uids);
    mappings["gidmap"] = ranges_json(map.gids);
    host["idMappings"] = std::move(mappings);
    host["singleIdMode"] = map.single_id();
    host["chownInContainers"] = map.single_id() ? "emulated (single-id)" : "full";
    host["idMode"] = map.single_id() ? kSingleIdNote : kRangeNote;
  } else {
    host["singleIdMode"] = false;
    host["chownInContainers"] = "full";
    host["idMode"] = "not rootless (every id is the host's)";
  }

  auto store = store::Store::open(ctx.root);
  OrderedJson store_info = OrderedJson::object();
  store_info["root"] = ctx.root.string();
  store_info["runroot"] = ctx.runroot.string();
  auto remembered = store.driver();
  auto driver = ctx.storage_driver ? ctx.storage_driver : remembered;
  store_info["driver"] = driver.value_or("not probed yet");
  store_info["driverSource"] = ctx.storage_driver ? "chosen (--storage-driver, KILN_STORAGE_DRIVER or the config file)"
                               : remembered      ? "probed and remembered in the store"
                                                 : "probed at the first command that mounts a container";
  store_info["images"] = store.image_index()->images().size();
  store_info["containers"] = store.list_containers().size();

  OrderedJson version = OrderedJson::object();
  version["version"] = KILN_VERSION;

  OrderedJson out = OrderedJson::object();
  out["host"] = std::move(host);
  out["store"] = std::move(store_info);
  out["version"] = std::move(version);
  return out;
}

// A small YAML rendering of the info object: mappings indent by two, list items by "- ".
void render_yaml(const OrderedJson& value, int indent, std::string& out) {
  std::string pad(static_cast<std::size_t>(indent), ' ');
  auto scalar = [](const OrderedJson& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  for (auto it = value.begin(); it != value.end(); ++it) {
    const auto& v = it.value();
    if (v.is_object()) {
      out += pad + it.key() + ":\n";
      render_yaml(v, indent + 2, out);
    } else if (v.is_array()) {
      out += pad + it.key() + ":" + (v.empty() ? " []" : "") + "\n";
      for (const auto& item : v) {
        if (!item.is_object()) {
          out += pad + "- " + scalar(item) + "\n";
          continue;
        }
        bool first = true;
        for (auto field = item.begin(); field != item.end(); ++field) {
          out += pad + (first ? "- " : "  ") + field.key() + ": " + scalar(field.value()) + "\n";
          first = false;
        }
      }
    } else {
      out += pad + it.key() + ": " + scalar(v) + "\n";
    }
  }
}

int run_info(const Args& args) {
  Context ctx = Context::resolve(args.global());
  OrderedJson info = info_json(ctx);
  std::string format = args.get_or("format", "");
  if (format.empty()) {
    std::string out;
    render_yaml(info, 0, out);
    std::cout << out;
  } else if (format == "json") {
    std::cout << info.dump(4) << "\n";
  } else {
    std::string line = render_template(format, Json::parse(info.dump()));
    std::cout << line << (line.empty() || line.back() != '\n' ? "\n" : "");
  }
  return 0;
}

const Registration kInfo{{"info", "system info"}, [] {
  return Command{
      .name = "info",
      .aliases = {"system info"},
      .usage_args = "[OPTIONS]",
      .summary = "Show host, id mapping and store information",
      .options = {
          {.long_name = "format", .short_name = 'f', .arg = "FORMAT", .help = "Print as json or with a Go template"},
      },
      .max_args = 0,
      .needs_userns = false,
      .run = run_info,
  };
}};

int run_check(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  bool repair = args.flag("repair");
  auto report = store.check(repair);
  std::string out;
  for (const auto& path : report.swept) out += "swept: " + path.string() + "\n";
  for (const auto& line : report.problems) out += "problem: " + line + "\n";
  for (const auto& line : report.repaired) out += "repaired: " + line + "\n";
  std::vector<std::string> remaining = report.problems;
  if (repair && !remaining.empty()) {
    // The report does not pair problems with repairs: look again to see what is left.
    remaining = store.check(false).problems;
    for (const auto& line : remaining) out += "remaining: " + line + "\n";
  }
  if (remaining.empty()) out += "store ok\n";
  std::cout << out;
  return remaining.empty() ? 0 : 1;
}

const Registration kCheck{{"system check"}, [] {
  return Command{
      .name = "system check",
      .usage_args = "[OPTIONS]",
      .summary = "Verify the store and optionally repair it",
      .description = "Re-hashes every blob and checks every layer, image and container record. "
                     "Prints each problem; with --repair removes what is broken. Exit status 1 "
                     "when problems remain.",
      .options = {
          {.long_name = "repair", .short_name = 'r', .help = "Remove broken records and what only they used"},
      },
      .max_args = 0,
      .run = run_check,
  };
}};

int run_migrate(const Args& args) {
  Context ctx = Context::resolve(args.global());
  if (!ctx.holder_dir.empty() && userns::stop_holder(ctx.holder_dir))
    std::cout << "stopped the user namespace holder\n";
  return 0;
}

const Registration kMigrate{{"system migrate"}, [] {
  return Command{
      .name = "system migrate",
      .usage_args = "[OPTIONS]",
      .summary = "Stop the user namespace holder",
      .description = "kiln keeps one process per user that holds its user namespace, so that "
                     "commands join it instead of running newuidmap and newgidmap each time. "
                     "This stops it (after /etc/subuid changes, or before logging out); the next "
                     "command starts a new one unless KILN_USERNS_HOLDER=0.",
      .max_args = 0,
      .needs_userns = false,
      .run = run_migrate,
  };
}};

}  // namespace
}  // namespace kiln::cli
