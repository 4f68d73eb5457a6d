// The build context: materialising it, the Dockerfile, .dockerignore, COPY
// source resolution and the remembered content digests.
#include "build/context.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>

#include "layer/apply.hpp"
#include "snapshot/program.hpp"
#include "util/digest.hpp"
#include "util/dir.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::build {
namespace {

bool has_glob(std::string_view text) { return text.find_first_of("*?[") != std::string_view::npos; }

std::string join_rel(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "/" + name;
}

// Unpacks a tarball (any compression libarchive reads) into dir, owned by us.
void unpack_tar(util::Fd input, const fs::path& dir, std::string_view what) {
  try {
    layer::ApplyOptions apply;
    apply.chown = false;
    layer::apply_layer(input, dir, apply);
  } catch (...) {
    util::rethrow_with("read build context {}", what);
  }
}

void clone_git(const GitSource& git, const fs::path& dir) {
  std::vector<std::string> args = {"git", "clone", "--quiet", "--depth", "1"};
  if (!git.ref.empty()) args.insert(args.end(), {"--branch", git.ref});
  std::string url = git.url;
  // A local repository: a shallow clone needs a file:// URL.
  if (url.find("://") == std::string::npos && !url.starts_with("git@")) url = "file://" + fs::absolute(url).string();
  args.insert(args.end(), {url, (dir / "src").string()});
  auto [status, output] = snapshot::run_program("git", args, {});
  if (status != 0) fail(ErrorKind::invalid_input, "git clone {}: {}", git.url, util::trim(output));
}

}  // namespace

std::optional<GitSource> parse_git_source(std::string_view text) {
  std::string_view base = text.substr(0, text.find('#'));
  bool git = base.ends_with(".git") || text.starts_with("git://") || text.starts_with("git@") ||
             (text.starts_with("file://") ) ||
             ((text.starts_with("https://") || text.starts_with("http://")) && base.ends_with(".git"));
  if (!git) return std::nullopt;
  GitSource source;
  source.url = std::string(base);
  if (auto hash = text.find('#'); hash != std::string_view::npos) {
    std::string fragment(text.substr(hash + 1));
    if (auto colon = fragment.find(':'); colon != std::string::npos) {
      source.subdir = fragment.substr(colon + 1);
      fragment.resize(colon);
    }
    source.ref = fragment;
  }
  return source;
}

BuildContext::~BuildContext() = default;

BuildContext BuildContext::open(store::Store& store, const BuildOptions& options) {
  BuildContext ctx;
  const std::string& source = options.context;
  bool dockerfile_stdin = options.dockerfile && *options.dockerfile == "-";
  if (source == "-") {
    if (dockerfile_stdin) fail(ErrorKind::invalid_input, "build: the context and the Dockerfile cannot both come from stdin");
    ctx.staging_.emplace(store.tmp_dir(), "build-context");
    ctx.dir_ = ctx.staging_->path();
    unpack_tar(util::Fd(0), ctx.dir_, "stdin");
  } else if (auto git = parse_git_source(source); git && !fs::is_directory(source)) {
    ctx.staging_.emplace(store.tmp_dir(), "build-context");
    clone_git(*git, ctx.staging_->path());
    ctx.dir_ = ctx.staging_->path() / "src" / git->subdir;
    if (!fs::is_directory(ctx.dir_)) fail(ErrorKind::not_found, "build context {}: no directory {}", source, git->subdir);
  } else {
    struct stat st;
    if (::stat(source.c_str(), &st) < 0) {
      try {
        throw util::sys_error("stat {}", source);
      } catch (...) {
        util::rethrow_with("build context");
      }
    }
    if (S_ISDIR(st.st_mode)) {
      ctx.dir_ = fs::absolute(source).lexically_normal();
      if (ctx.dir_.has_filename() == false) ctx.dir_ = ctx.dir_.parent_path();
      ctx.hash_file_ = store.cache_dir() / "files" / (std::string(util::sha256_of(ctx.dir_.string()).hex().substr(0, 32)) + ".json");
    } else {
      ctx.staging_.emplace(store.tmp_dir(), "build-context");
      ctx.dir_ = ctx.staging_->path();
      auto file = util::open_read(source);
      unpack_tar(file, ctx.dir_, source);
    }
  }

  // The Dockerfile: stdin, -f (relative to the working directory, else to the context),
  // else Dockerfile or Containerfile in the context.
  fs::path dockerfile_path;
  if (dockerfile_stdin) {
    ctx.dockerfile_text_ = util::read_all(util::Fd(0));
    ctx.dockerfile_name_ = "Dockerfile";
  } else if (options.dockerfile) {
    fs::path p = *options.dockerfile;
    if (ctx.staging_ || (p.is_relative() && !fs::exists(p) && fs::exists(ctx.dir_ / p))) p = ctx.dir_ / p;
    dockerfile_path = p;
    ctx.dockerfile_name_ = *options.dockerfile;
  } else {
    dockerfile_path = ctx.dir_ / "Dockerfile";
    ctx.dockerfile_name_ = "Dockerfile";
    if (!fs::exists(dockerfile_path) && fs::exists(ctx.dir_ / "Containerfile")) {
      dockerfile_path = ctx.dir_ / "Containerfile";
      ctx.dockerfile_name_ = "Containerfile";
    }
  }
  if (!dockerfile_path.empty()) {
    auto text = util::try_read_file(dockerfile_path);
    if (!text) fail(ErrorKind::not_found, "build: no Dockerfile: {} does not exist", dockerfile_path.string());
    ctx.dockerfile_text_ = std::move(*text);
  }

  // Ignore rules: <Dockerfile>.dockerignore beside the Dockerfile first, else the context's.
  std::optional<std::string> ignore_text;
  if (!dockerfile_path.empty())
    ignore_text = util::try_read_file(dockerfile::dockerfile_ignore_name(dockerfile_path.string()));
  if (!ignore_text) ignore_text = util::try_read_file(ctx.dir_ / ".dockerignore");
  if (ignore_text) {
    try {
      ctx.ignore_ = dockerfile::DockerIgnore::parse(*ignore_text);
    } catch (...) {
      util::rethrow_with(".dockerignore");
    }
  }

  if (!ctx.hash_file_.empty()) {
    if (auto text = util::try_read_file(ctx.hash_file_)) {
      try {
        // Named: a range-for does not keep parse()'s temporary alive through items().
        const Json saved = Json::parse(*text);
        for (const auto& [rel, e] : saved.items())
          ctx.hashes_[rel] = {e.at(0).get<std::uint64_t>(), e.at(1).get<std::uint64_t>(), e.at(2).get<std::int64_t>(),
                              e.at(3).get<std::int64_t>(), e.at(4).get<std::string>()};
      } catch (const std::exception&) {
        ctx.hashes_.clear();  // a damaged cache only costs hashing
      }
    }
  }
  return ctx;
}

bool BuildContext::excluded(std::string_view rel) const { return !rel.empty() && ignore_.excluded(rel); }

std::vector<std::string> BuildContext::resolve(std::string_view source) const {
  std::string clean = dockerfile::clean_path(source);
  while (clean.starts_with("/")) clean.erase(0, 1);
  if (clean.empty() || clean == ".") clean.clear();
  if (clean == ".." || clean.starts_with("../"))
    fail(ErrorKind::invalid_input, "{}: outside the build context", source);
  if (!has_glob(clean)) {
    struct stat st;
    if (::lstat((dir_ / clean).c_str(), &st) < 0 || excluded(clean))
      fail(ErrorKind::not_found, "{}: no such file or directory in the build context (or excluded by .dockerignore)",
           source);
    return {clean};
  }
  // Expand component by component; '*' and '?' do not cross '/'.
  std::vector<std::string> current = {""};
  for (const auto& part : util::split(clean, '/')) {
    std::vector<std::string> next;
    for (const auto& base : current) {
      if (!has_glob(part)) {
        std::string rel = join_rel(base, part);
        if (::access((dir_ / rel).c_str(), F_OK) == 0 || fs::is_symlink(dir_ / rel)) next.push_back(rel);
        continue;
      }
      if (!fs::is_directory(dir_ / base)) continue;
      for (const auto& name : util::sorted_entries(dir_ / base))
        if (::fnmatch(part.c_str(), name.c_str(), FNM_PERIOD * 0) == 0) next.push_back(join_rel(base, name));
    }
    current = std::move(next);
  }
  std::erase_if(current, [&](const std::string& rel) { return excluded(rel); });
  if (current.empty()) fail(ErrorKind::not_found, "{}: no source files were specified (nothing matches)", source);
  return current;
}

void BuildContext::walk(const std::string& rel,
                        const std::function<void(const std::string&, const struct stat&)>& fn) const {
  struct stat st;
  fs::path path = rel.empty() ? dir_ : dir_ / rel;
  if (::lstat(path.c_str(), &st) < 0) throw util::sys_error("stat {}", path.string());
  fn(rel, st);
  if (!S_ISDIR(st.st_mode)) return;
  for (const auto& name : util::sorted_entries(path)) {
    std::string child = join_rel(rel, name);
    if (excluded(child)) {
      struct stat cst;
      if (::lstat((dir_ / child).c_str(), &cst) < 0 || !S_ISDIR(cst.st_mode) || !ignore_.may_include_under(child))
        continue;
    }
    walk(child, fn);
  }
}

std::string BuildContext::file_hash(const std::string& rel, const struct stat& st) {
  auto it = hashes_.find(rel);
  std::int64_t mtime = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  std::int64_t ctime = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
  if (it != hashes_.end() && it->second.inode == st.st_ino && it->second.size == static_cast<std::uint64_t>(st.st_size) &&
      it->second.mtime_ns == mtime && it->second.ctime_ns == ctime)
    return it->second.hex;
  std::string hex(util::sha256_of_file(dir_ / rel).hex());
  if (!hash_file_.empty()) {
    hashes_[rel] = {st.st_ino, static_cast<std::uint64_t>(st.st_size), mtime, ctime, hex};
    hashes_changed_ = true;
  }
  return hex;
}

std::string BuildContext::digest(const std::vector<std::string>& rels) {
  util::Sha256 sha;
  for (const auto& top : rels) {
    walk(top, [&](const std::string& rel, const struct stat& st) {
      std::string line = fmt::format("{}\t{:o}\t{}\t", rel, st.st_mode, S_ISREG(st.st_mode) ? st.st_size : 0);
      if (S_ISREG(st.st_mode)) line += file_hash(rel, st);
      else if (S_ISLNK(st.st_mode)) line += fs::read_symlink(dir_ / rel).string();
      sha.update(line);
      sha.update("\n", 1);
    });
  }
  return std::string(sha.finish().hex());
}

void BuildContext::save_hashes() {
  if (!hashes_changed_ || hash_file_.empty()) return;
  try {
    Json out = Json::object();
    for (const auto& [rel, e] : hashes_) out[rel] = Json::array({e.inode, e.size, e.mtime_ns, e.ctime_ns, e.hex});
    util::make_dirs(hash_file_.parent_path(), 0700);
    util::write_file_replace(hash_file_, out.dump(), 0600);  // a cache: losing it costs a rehash
    hashes_changed_ = false;
  } catch (const std::exception& e) {
    util::debug("save context digests: {}", util::describe(e));
  }
}

}  // namespace kiln::build
