// Registry commands: pull, push, login, logout, search. Each checks its
// arguments, builds the registry options podman would (--tls-verify, the
// config's insecure list, certs.d, --creds, --authfile) and makes one call
// into src/registry.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cli/command.hpp"
#include "cli/context.hpp"
#include "cli/format.hpp"
#include "image/reference.hpp"
#include "registry/auth_file.hpp"
#include "registry/pull.hpp"
#include "registry/push.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::cli {
namespace {

namespace fs = std::filesystem;

Option tls_verify_option() {
  return {"tls-verify", 0, "", "Require HTTPS and verify certificates (--tls-verify=false for a plain-http registry)"};
}
Option cert_dir_option() {
  return {"cert-dir", 0, "DIR", "Use certificates (*.crt, *.cert, *.key) in DIR for the registry", Complete::dir};
}
Option authfile_option() {
  return {"authfile", 0, "FILE", "Read and write credentials in FILE", Complete::file};
}
Option creds_option() { return {"creds", 0, "USER[:PASS]", "Use these credentials for the registry"}; }

// "https://host/x" -> "host/x": login and logout accept a URL as podman does.
std::string strip_scheme(std::string text) {
  for (std::string_view scheme : {"https://", "http://", "docker://"})
    if (text.starts_with(scheme)) text.erase(0, scheme.size());
  while (text.ends_with('/')) text.pop_back();
  return text;
}

// The certs.d directory podman would use for host: --cert-dir, else the user's, else /etc's.
fs::path cert_dir_for(const Args& args, const std::string& host) {
  if (auto dir = args.get("cert-dir")) return *dir;
  std::vector<fs::path> candidates;
  if (const char* config = std::getenv("XDG_CONFIG_HOME"); config && *config)
    candidates.push_back(fs::path(config) / "containers/certs.d" / host);
  else if (const char* home = std::getenv("HOME"); home && *home)
    candidates.push_back(fs::path(home) / ".config/containers/certs.d" / host);
  candidates.push_back(fs::path("/etc/containers/certs.d") / host);
  candidates.push_back(fs::path("/etc/docker/certs.d") / host);
  for (const auto& dir : candidates) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return dir;
  }
  return {};
}

std::optional<registry::Credentials> parse_creds(const std::string& text);

registry::RegistryOptions registry_options(const Args& args, const Context& ctx, const std::string& host) {
  registry::RegistryOptions options;
  const auto& insecure = ctx.config.insecure_registries;
  options.insecure = (args.given("tls-verify") && !args.flag("tls-verify")) ||
                     std::find(insecure.begin(), insecure.end(), host) != insecure.end();
  options.cert_dir = cert_dir_for(args, host);
  if (auto file = args.get("authfile")) options.auth_file = *file;
  if (auto creds = args.get("creds")) options.credentials = parse_creds(*creds);
  return options;
}

// Reads one line from the terminal; without echo for a password.
std::string prompt(const std::string& label, bool secret) {
  std::cerr << label << std::flush;
  termios saved{};
  bool restore = secret && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (restore) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  return line;
}

std::optional<registry::Credentials> parse_creds(const std::string& text) {
  auto colon = text.find(':');
  registry::Credentials creds;
  creds.username = text.substr(0, colon);
  if (colon != std::string::npos) creds.password = text.substr(colon + 1);
  else if (::isatty(STDIN_FILENO)) creds.password = prompt("Password: ", true);
  if (creds.username.empty()) fail(ErrorKind::invalid_input, "--creds: user name is empty");
  return creds;
}


// --- pull ------------------------------------------------------------------------------

int run_pull(const Args& args) {
  Context ctx = Context::resolve(args.global());
  std::string text = args.positional()[0];
  if (text.starts_with("docker://")) text.erase(0, 9);
  registry::PullOptions options;
  if (auto platform = args.get("platform")) options.platform = image::Platform::parse(*platform);
  registry::TransferProgress progress(registry::TransferProgress::mode_for(args.flag("quiet")));
  options.progress = &progress;

  std::vector<image::Reference> candidates = image::resolve_candidates(text, ctx.config.search_registries);
  bool short_name = candidates.size() > 1 || !candidates.front().explicit_registry;
  store::Store store = store::Store::open(ctx.root);
  std::exception_ptr last;
  for (const auto& ref : candidates) {
    if (ref.registry == image::kLocalRegistry)
      fail(ErrorKind::invalid_input, "pull {}: localhost/ names images that exist only locally", ref.str());
    try {
      if (short_name) progress.message(fmt::format("Trying to pull {}...", ref.str()));
      registry::RegistryClient client(ref.registry, registry_options(args, ctx, ref.registry));
      registry::PulledImage pulled = registry::pull_image(store, client, ref, options);
      std::cout << pulled.record.id.hex() << "\n";
      return 0;
    } catch (const std::exception& e) {
      // The next search registry may have it; a corrupt or malformed image stops here.
      ErrorKind kind = util::kind_of(e);
      if (&ref == &candidates.back() || kind == ErrorKind::corrupt || kind == ErrorKind::invalid_input) throw;
      last = std::current_exception();
    }
  }
  std::rethrow_exception(last);
}

const Registration kPull{{"pull", "image pull"}, [] {
  return Command{
      .name = "pull",
      .aliases = {"image pull"},
      .usage_args = "[OPTIONS] IMAGE",
      .summary = "Pull an image from a registry",
      .description = "Downloads IMAGE (by tag or @sha256 digest) into the store. A short name is tried "
                     "in each search registry of the configuration in turn. A manifest list or index "
                     "resolves to this host's platform or --platform. Layers are fetched in parallel "
                     "and verified; layers already in the store are not fetched again. They are "
                     "extracted by the first run, create or build that uses the image. Prints the "
                     "image id.",
      .options = {{"quiet", 'q', "", "Print nothing but the image id"},
                  {"platform", 0, "OS/ARCH[/VARIANT]", "Pick this platform from a manifest list"},
                  tls_verify_option(), cert_dir_option(), authfile_option(), creds_option()},
      .min_args = 1,
      .max_args = 1,
      .arg_complete = Complete::image,
      .needs_userns = false,  // stores blobs only: extraction waits for the first run
      .run = run_pull,
  };
}};

// --- push ------------------------------------------------------------------------------

// The local image a push names: an id or exact name first, then the normalised forms
// podman would try (as given, under localhost/, through the search registries).
store::ImageRecord find_local_image(const store::Store& store, const std::string& text, const Context& ctx) {
  if (auto found = store.find_image(text)) return *found;
  std::vector<std::string> names;
  if (auto ref = image::Reference::try_parse(text)) names.push_back(ref->str());
  try {
    names.push_back(image::Reference::parse_local(text).str());
    for (const auto& ref : image::resolve_candidates(text, ctx.config.search_registries)) names.push_back(ref.str());
  } catch (const Error&) {
    // Not a reference at all: only the exact lookup above applied.
  }
  for (const auto& name : names)
    if (auto found = store.find_image(name)) return *found;
  return store.image(text);  // throws "no such image"
}

int run_push(const Args& args) {
  Context ctx = Context::resolve(args.global());
  const auto& positional = args.positional();
  registry::PushOptions options;
  if (auto format = args.get("format")) options.format = registry::parse_manifest_format(*format);
  if (auto compression = args.get("compression-format")) {
    if (*compression == "gzip") options.compression = image::media_type::Compression::gzip;
    else if (*compression == "zstd") options.compression = image::media_type::Compression::zstd;
    else fail(ErrorKind::invalid_input, "unknown compression format \"{}\" (want gzip or zstd)", *compression);
  }
  registry::TransferProgress progress(registry::TransferProgress::mode_for(args.flag("quiet")));
  options.progress = &progress;

  store::Store store = store::Store::open(ctx.root);
  store::ImageRecord image = find_local_image(store, positional[0], ctx);
  std::string dest_text = positional.size() > 1 ? positional[1] : positional[0];
  if (dest_text.starts_with("docker://")) dest_text.erase(0, 9);
  image::Reference dest = image::Reference::parse(dest_text);
  if (dest.registry == image::kLocalRegistry)
    fail(ErrorKind::invalid_input, "push {}: name a registry to push to (localhost/ is local only)", dest.str());
  registry::RegistryClient client(dest.registry, registry_options(args, ctx, dest.registry));
  registry::PushedImage pushed = registry::push_image(store, client, image, dest, options);
  if (auto file = args.get("digestfile")) util::write_file_atomic(*file, pushed.manifest_digest.str());
  return 0;
}

const Registration kPush{{"push", "image push"}, [] {
  return Command{
      .name = "push",
      .aliases = {"image push"},
      .usage_args = "[OPTIONS] IMAGE [DESTINATION]",
      .summary = "Push an image to a registry",
      .description = "Uploads IMAGE to DESTINATION (default: IMAGE's own name). Blobs the registry "
                     "has are not sent again; blobs of an image pulled from another repository of "
                     "the same registry are mounted from there. The manifest keeps the image's "
                     "format unless --format asks for another.",
      .options = {{"quiet", 'q', "", "Print no progress"},
                  {"format", 'f', "FORMAT", "Manifest format: oci or v2s2", Complete::choice, {"oci", "v2s2"}},
                  {"compression-format", 0, "FORMAT", "Recompress layers as gzip or zstd", Complete::choice,
                   {"gzip", "zstd"}},
                  {"digestfile", 0, "FILE", "Write the manifest digest to FILE", Complete::file},
                  {"remove-signatures", 0, "", "Do not copy signatures (kiln keeps none)"},
                  tls_verify_option(), cert_dir_option(), authfile_option(), creds_option()},
      .min_args = 1,
      .max_args = 2,
      .arg_complete = Complete::image,
      .run = run_push,
  };
}};

// --- login / logout --------------------------------------------------------------------

int run_login(const Args& args) {
  Context ctx = Context::resolve(args.global());
  std::string key = strip_scheme(args.positional()[0]);
  std::string host = key.substr(0, key.find('/'));
  registry::Credentials creds;
  creds.username = args.get_or("username", "");
  if (args.flag("password-stdin")) {
    if (args.given("password")) fail(ErrorKind::invalid_input, "login: --password and --password-stdin conflict");
    std::getline(std::cin, creds.password);
    if (!creds.password.empty() && creds.password.back() == '\r') creds.password.pop_back();
  } else if (auto password = args.get("password")) {
    creds.password = *password;
  }
  bool terminal = ::isatty(STDIN_FILENO);
  if (creds.username.empty()) {
    if (!terminal) fail(ErrorKind::invalid_input, "login {}: no user name given (-u) and no terminal to ask", key);
    creds.username = prompt("Username: ", false);
  }
  if (creds.password.empty() && !args.flag("password-stdin")) {
    if (!terminal) fail(ErrorKind::invalid_input, "login {}: no password given (-p, --password-stdin) and no terminal to ask", key);
    creds.password = prompt("Password: ", true);
  }
  try {
    registry::RegistryOptions options = registry_options(args, ctx, host);
    options.credentials = creds;
    registry::RegistryClient client(host, options);
    client.ping();
    registry::store_credentials(registry::auth_file_path(args.get_or("authfile", "")), key, creds);
  } catch (...) {
    util::rethrow_with("login {}", key);
  }
  std::cout << "Login Succeeded!\n";
  return 0;
}

const Registration kLogin{{"login"}, [] {
  return Command{
      .name = "login",
      .usage_args = "[OPTIONS] REGISTRY",
      .summary = "Log in to a registry",
      .description = "Checks the credentials against REGISTRY and stores them in the auth file "
                     "($REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json), which podman "
                     "and skopeo read too. Asks for what is missing on a terminal.",
      .options = {{"username", 'u', "USER", "User name"},
                  {"password", 'p', "PASSWORD", "Password (visible to other users: prefer --password-stdin)"},
                  {"password-stdin", 0, "", "Read the password from standard input"},
                  authfile_option(), tls_verify_option(), cert_dir_option()},
      .min_args = 1,
      .max_args = 1,
      .needs_userns = false,
      .run = run_login,
  };
}};

int run_logout(const Args& args) {
  fs::path file = registry::auth_file_path(args.get_or("authfile", ""));
  if (args.flag("all")) {
    if (!args.positional().empty()) fail(ErrorKind::invalid_input, "logout: --all takes no registry");
    if (fs::exists(file)) registry::remove_all_credentials(file);
    std::cout << "Removed login credentials for all registries\n";
    return 0;
  }
  if (args.positional().empty()) fail(ErrorKind::invalid_input, "logout: name a registry or give --all");
  std::string key = strip_scheme(args.positional()[0]);
  if (!fs::exists(file) || !registry::remove_credentials(file, key)) fail(ErrorKind::not_found, "not logged into {}", key);
  std::cout << "Removed login credentials for " << key << "\n";
  return 0;
}

const Registration kLogout{{"logout"}, [] {
  return Command{
      .name = "logout",
      .usage_args = "[OPTIONS] [REGISTRY]",
      .summary = "Remove stored registry credentials",
      .options = {{"all", 'a', "", "Remove the credentials of every registry"}, authfile_option()},
      .max_args = 1,
      .needs_userns = false,
      .run = run_logout,
  };
}};

// --- search ----------------------------------------------------------------------------

// One search row as podman prints it.
Json search_row(const std::string& name, const std::string& tag) {
  Json row = {{"Index", name.substr(0, name.find('/'))}, {"Name", name}, {"Description", ""},
              {"Stars", 0}, {"Official", ""}, {"Automated", ""}};
  if (!tag.empty()) row["Tag"] = tag;
  return row;
}

// --filter stars=N, is-official, is-automated: registries without a search API have no
// stars and nothing official or automated, so a filter asking for those keeps nothing.
bool filters_keep_all(const std::vector<std::string>& filters) {
  for (const auto& filter : filters) {
    auto eq = filter.find('=');
    std::string key = filter.substr(0, eq), value = eq == std::string::npos ? "" : filter.substr(eq + 1);
    if (key == "stars") {
      if (std::atoi(value.c_str()) > 0) return false;
    } else if (key == "is-official" || key == "is-automated") {
      if (value != "false") return false;
    } else {
      fail(ErrorKind::invalid_input, "search: invalid filter \"{}\"", filter);
    }
  }
  return true;
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

int run_search(const Args& args) {
  Context ctx = Context::resolve(args.global());
  std::string term = strip_scheme(args.positional()[0]);
  std::size_t limit = 0;
  if (auto text = args.get("limit")) limit = static_cast<std::size_t>(std::stoul(*text));
  bool keep = filters_keep_all(args.all("filter"));
  std::string format = args.get_or("format", "");
  std::vector<Json> rows;

  // "REGISTRY/TERM" picks the registry; a bare term searches every search registry.
  std::vector<std::string> registries;
  auto slash = term.find('/');
  std::string first = term.substr(0, slash);
  if (slash != std::string::npos &&
      (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost")) {
    registries.push_back(first);
    term = term.substr(slash + 1);
  } else {
    registries = ctx.config.search_registries;
    if (registries.empty()) registries.push_back(std::string(image::kDefaultRegistry));
  }

  if (args.flag("list-tags")) {
    if (registries.size() != 1) fail(ErrorKind::invalid_input, "search --list-tags: name the registry: REGISTRY/REPOSITORY");
    image::Reference ref = image::Reference::parse(registries[0] + "/" + term);
    if (ref.explicit_tag || ref.digest) fail(ErrorKind::invalid_input, "search --list-tags: {} names a tag or digest", term);
    registry::RegistryClient client(ref.registry, registry_options(args, ctx, ref.registry));
    std::vector<std::string> tags;
    try {
      tags = client.list_tags(ref.repository);
    } catch (...) {
      util::rethrow_with("search {}", ref.name());
    }
    for (const auto& tag : tags) {
      if (limit && rows.size() >= limit) break;
      rows.push_back(search_row(ref.name(), tag));
    }
    Listing listing{{"Name", "Tag"}, {}};
    std::cout << render_listing(rows, format, listing);
    return 0;
  }

  std::string needle = lower(term);
  for (const auto& host : registries) {
    std::vector<std::string> names;
    try {
      registry::RegistryClient client(host, registry_options(args, ctx, host));
      names = client.catalog();
    } catch (...) {
      util::rethrow_with("search {}", host);
    }
    std::size_t found = 0;
    for (const auto& name : names) {
      if (!keep) break;
      if (lower(name).find(needle) == std::string::npos) continue;
      if (limit && found >= limit) break;
      rows.push_back(search_row(host + "/" + name, ""));
      ++found;
    }
  }
  Listing listing{{"Name", "Description"}, {}};
  std::cout << render_listing(rows, format, listing);
  return 0;
}

const Registration kSearch{{"search"}, [] {
  return Command{
      .name = "search",
      .usage_args = "[OPTIONS] TERM",
      .summary = "Search a registry for images",
      .description = "Lists the repositories whose name contains TERM, from the registry's catalog "
                     "(REGISTRY/TERM picks the registry, else every search registry is asked). "
                     "--list-tags lists the tags of the repository REGISTRY/NAME instead.",
      .options = {{"limit", 0, "N", "Show at most N results per registry"},
                  {"list-tags", 0, "", "List the tags of one repository"},
                  {"format", 0, "FORMAT", "Print as json or with a Go template"},
                  {"filter", 'f', "FILTER", "Filter: stars=N, is-official, is-automated", Complete::none, {}, true},
                  tls_verify_option(), cert_dir_option(), authfile_option(), creds_option()},
      .min_args = 1,
      .max_args = 1,
      .needs_userns = false,
      .run = run_search,
  };
}};

}  // namespace
}  // namespace kiln::cli
