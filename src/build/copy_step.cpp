// COPY/ADD: sources, destination rules, ownership, archives and URLs.
#include "build/copy_step.hpp"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "build/layers.hpp"
#include "dockerfile/dockerignore.hpp"
#include "layer/apply.hpp"
#include "runtime/user.hpp"
#include "userns/userns.hpp"
#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::build {
namespace {

struct Owner {
  uid_t uid = 0;
  gid_t gid = 0;
};

bool is_url(std::string_view s) { return s.starts_with("http://") || s.starts_with("https://"); }
bool is_heredoc_source(std::string_view s) { return s.starts_with("<<"); }

void set_owner(const fs::path& path, Owner owner) {
  if (::lchown(path.c_str(), owner.uid, owner.gid) < 0 && errno != EINVAL && errno != EPERM)
    throw util::sys_error("chown {}", path.string());
}

void set_times(const fs::path& path, const struct stat& st) {
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  ::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

void copy_file_data(const fs::path& from, const fs::path& to, mode_t mode) {
  auto in = util::open_read(from);
  ::unlink(to.c_str());
  auto out = util::open_file(to, O_WRONLY | O_CREAT | O_TRUNC, mode & 07777);
  for (;;) {
    ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno != EXDEV && errno != ENOSYS && errno != EINVAL) throw util::sys_error("copy {}", from.string());
      // Fall back to read/write.
      char buf[1 << 16];
      for (;;) {
        ssize_t r = ::read(in.get(), buf, sizeof buf);
        if (r < 0) throw util::sys_error("read {}", from.string());
        if (r == 0) break;
        util::write_all(out, std::string_view(buf, static_cast<std::size_t>(r)));
      }
      break;
    }
  }
  ::fchmod(out.get(), mode & 07777);
}

class TreeBuilder {
public:
  TreeBuilder(const store::Store& store, const std::vector<util::Digest>& layers, fs::path tree, Owner owner,
              std::optional<mode_t> chmod)
      : store_(store), layers_(layers), tree_(std::move(tree)), owner_(owner), chmod_(chmod) {}

  // Makes the directories leading to rel (an absolute image path without the leading
  // '/'), with the metadata the image has for them, else 0755 root.
  void ensure_dir(const fs::path& rel, bool last_is_new_target) {
    fs::path prefix;
    for (const auto& part : rel) {
      prefix /= part;
      fs::path path = tree_ / prefix;
      if (fs::exists(fs::symlink_status(path))) continue;
      struct stat st;
      auto existing = find_in_layers(store_, layers_, prefix.string());
      if (existing && ::lstat(existing->c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        if (::mkdir(path.c_str(), st.st_mode & 07777) < 0) throw util::sys_error("mkdir {}", path.string());
        ::chmod(path.c_str(), st.st_mode & 07777);
        set_owner(path, {st.st_uid, st.st_gid});
        set_times(path, st);
      } else {
        // A directory made for the destination is 0755: --chmod applies to what is
        // copied, not to the directories created to hold it (buildah, BuildKit).
        bool target = last_is_new_target && prefix == rel;
        if (::mkdir(path.c_str(), 0755) < 0) throw util::sys_error("mkdir {}", path.string());
        ::chmod(path.c_str(), 0755);
        set_owner(path, target || all_new_owned_ ? owner_ : Owner{});
      }
    }
  }

  // Copies one entry (not recursing) from src to rel in the tree.
  void copy_entry(const fs::path& src, const struct stat& st, const fs::path& rel) {
    fs::path dst = tree_ / rel;
    // Without --chown, what comes from another stage or image keeps its owner.
    Owner owner = keep_owner_ ? Owner{st.st_uid, st.st_gid} : owner_;
    if (S_ISDIR(st.st_mode)) {
      if (!fs::is_directory(fs::symlink_status(dst))) {
        std::error_code ec;
        fs::remove(dst, ec);
        if (::mkdir(dst.c_str(), 0700) < 0) throw util::sys_error("mkdir {}", dst.string());
      }
      ::chmod(dst.c_str(), chmod_ ? *chmod_ : st.st_mode & 07777);
      set_owner(dst, owner);
      set_times(dst, st);
    } else if (S_ISREG(st.st_mode)) {
      copy_file_data(src, dst, chmod_ ? *chmod_ : st.st_mode);
      set_owner(dst, owner);
      ::chmod(dst.c_str(), chmod_ ? *chmod_ : st.st_mode & 07777);
      set_times(dst, st);
    } else if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      fs::remove(dst, ec);
      fs::create_symlink(fs::read_symlink(src), dst);
      set_owner(dst, owner);
      set_times(dst, st);
    }
    // Devices, fifos and sockets in a context are not copied (as BuildKit).
  }

  // Whether rel is a directory in the image (following nothing).
  bool image_has_dir(const fs::path& rel) const {
    if (fs::is_directory(fs::symlink_status(tree_ / rel))) return true;
    auto existing = find_in_layers(store_, layers_, rel.string());
    return existing && fs::is_directory(fs::symlink_status(*existing));
  }

  const fs::path& tree() const { return tree_; }
  Owner owner() const { return owner_; }
  std::optional<mode_t> chmod() const { return chmod_; }
  void keep_source_owner(bool keep) { keep_owner_ = keep; }
  void own_all_new_dirs(bool own) { all_new_owned_ = own; }

private:
  const store::Store& store_;
  const std::vector<util::Digest>& layers_;
  fs::path tree_;
  Owner owner_;
  std::optional<mode_t> chmod_;
  bool keep_owner_ = false;
  bool all_new_owned_ = false;
};

// Walks a plain directory tree (a --from root), parents first, names sorted.
void walk_plain(const fs::path& root, const std::string& rel,
                const std::function<void(const std::string&, const struct stat&)>& fn) {
  struct stat st;
  fs::path path = rel.empty() ? root : root / rel;
  if (::lstat(path.c_str(), &st) < 0) throw util::sys_error("stat {}", path.string());
  fn(rel, st);
  if (!S_ISDIR(st.st_mode)) return;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(path)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const auto& name : names) walk_plain(root, rel.empty() ? name : rel + "/" + name, fn);
}

std::vector<std::string> resolve_in_root(const fs::path& root, std::string_view source) {
  std::string clean = dockerfile::clean_path(source);
  while (clean.starts_with("/")) clean.erase(0, 1);
  if (clean == ".") clean.clear();
  if (clean == ".." || clean.starts_with("../")) fail(ErrorKind::invalid_input, "{}: outside the source root", source);
  if (clean.find_first_of("*?[") == std::string::npos) {
    if (!fs::exists(fs::symlink_status(root / clean)))
      fail(ErrorKind::not_found, "{}: no such file or directory", source);
    return {clean};
  }
  glob_t g{};
  std::string pattern = (root / clean).string();
  std::vector<std::string> out;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i)
      out.push_back(fs::path(g.gl_pathv[i]).lexically_relative(root).string());
  ::globfree(&g);
  if (out.empty()) fail(ErrorKind::not_found, "{}: no source files were specified (nothing matches)", source);
  return out;
}

// A source that is a symlink is followed (Docker's COPY copies what a named link points
// to; links inside a copied directory stay links), staying inside root: an absolute or
// escaping target is resolved as if root were '/'.
std::string follow_in_root(const fs::path& root, std::string rel) {
  for (int hops = 0; hops < 40; ++hops) {
    fs::path path = rel.empty() ? root : root / rel;
    struct stat st;
    if (::lstat(path.c_str(), &st) < 0 || !S_ISLNK(st.st_mode)) return rel;
    fs::path target = fs::read_symlink(path);
    fs::path joined = target.is_absolute() ? target.relative_path() : fs::path(rel).parent_path() / target;
    fs::path clean;
    for (const auto& part : joined.lexically_normal()) {
      if (part == "..") clean = clean.parent_path();
      else if (part != "." && !part.empty()) clean /= part;
    }
    rel = clean.string();
  }
  fail(ErrorKind::invalid_input, "{}: too many levels of symbolic links", rel);
}

bool looks_like_archive(const fs::path& file) {
  auto fd = util::try_open_read(file);
  if (!fd) return false;
  unsigned char head[512] = {};
  ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
  if (n < 4) return false;
  if (head[0] == 0x1f && head[1] == 0x8b) return true;                          // gzip
  if (head[0] == 'B' && head[1] == 'Z' && head[2] == 'h') return true;          // bzip2
  if (head[0] == 0xfd && head[1] == '7' && head[2] == 'z' && head[3] == 'X') return true;  // xz
  if (head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) return true;  // zstd
  return n >= 262 && std::string_view(reinterpret_cast<char*>(head) + 257, 5) == "ustar";
}

std::size_t curl_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto* out = static_cast<util::UniqueFd*>(user);
  try {
    util::write_all(*out, std::string_view(data, size * count));
  } catch (...) {
    return 0;
  }
  return size * count;
}

void download(const std::string& url, const fs::path& to) {
  auto out = util::open_file(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CURL* curl = ::curl_easy_init();
  if (!curl) fail("curl: out of memory");
  char error[CURL_ERROR_SIZE] = {};
  ::curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  ::curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  ::curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
  ::curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_write);
  ::curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
  ::curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  ::curl_easy_setopt(curl, CURLOPT_NOPROXY, "127.0.0.1,localhost");
  CURLcode rc = ::curl_easy_perform(curl);
  ::curl_easy_cleanup(curl);
  if (rc != CURLE_OK) fail(ErrorKind::not_found, "download {}: {}", url, error[0] ? error : ::curl_easy_strerror(rc));
}

Owner resolve_owner(const store::Store& store, const std::vector<util::Digest>& layers, const std::string& spec) {
  auto parts = util::split_once(spec, ':');
  std::string user = parts ? parts->first : spec;
  bool numeric = !user.empty() && std::all_of(user.begin(), user.end(), ::isdigit);
  auto ids = runtime::resolve_user(spec, read_from_layers(store, layers, "etc/passwd"),
                                   read_from_layers(store, layers, "etc/group"));
  Owner owner{ids.uid, ids.gid};
  // Docker: "--chown=55" means 55:55.
  if (!parts && numeric) owner.gid = static_cast<gid_t>(owner.uid);
  return owner;
}

}  // namespace

std::vector<std::string> context_sources(const BuildContext& context, const CopyRequest& request) {
  std::vector<std::string> out;
  if (!request.from_root.empty()) return out;
  for (const auto& source : request.sources) {
    if (is_heredoc_source(source) || (request.add && is_url(source))) continue;
    for (const auto& rel : context.resolve(source)) {
      out.push_back(rel);
      if (auto target = follow_in_root(context.dir(), rel); target != rel) out.push_back(target);
    }
  }
  return out;
}

store::LayerRecord copy_step(store::Store& store, const BuildContext& context, const std::vector<util::Digest>& layers,
                             const CopyRequest& request, const std::optional<std::int64_t>& timestamp) {
  Owner owner;
  if (request.chown && !request.chown->empty()) owner = resolve_owner(store, layers, *request.chown);
  std::optional<mode_t> chmod;
  if (request.chmod) {
    try {
      std::size_t used = 0;
      chmod = static_cast<mode_t>(std::stoul(*request.chmod, &used, 8));
      if (used != request.chmod->size() || *chmod > 07777) throw std::invalid_argument("mode");
    } catch (const std::exception&) {
      fail(ErrorKind::invalid_input, "--chmod={}: want an octal mode", *request.chmod);
    }
  }
  store::StagingDir staging = store.staging_dir("build-copy");
  fs::path tree = staging.path() / "tree";
  util::make_dirs(tree, 0755);
  TreeBuilder builder(store, layers, tree, owner, chmod);
  builder.keep_source_owner(!request.from_root.empty() && !request.chown);

  // Each source as (root it is read from, relative path), after globbing.
  struct Source {
    fs::path root;
    std::string rel;
    bool context = false;
    const dockerfile::Heredoc* heredoc = nullptr;
    std::string url;
    std::string name;  // the name a file gets in a directory destination
  };
  std::vector<Source> sources;
  for (const auto& text : request.sources) {
    if (is_heredoc_source(text)) {
      std::string name = text.substr(2);
      if (name.starts_with("-")) name.erase(0, 1);
      std::erase(name, '"');
      std::erase(name, '\'');
      auto it = std::find_if(request.heredocs.begin(), request.heredocs.end(),
                             [&](const auto& h) { return h.name == name; });
      if (it == request.heredocs.end()) fail(ErrorKind::invalid_input, "heredoc {} has no body", name);
      sources.push_back({{}, name, false, &*it, {}, name});
    } else if (request.add && is_url(text)) {
      sources.push_back({{}, {}, false, nullptr, text, {}});
    } else if (request.from_root.empty()) {
      for (auto& rel : context.resolve(text))
        sources.push_back({context.dir(), follow_in_root(context.dir(), rel), true, nullptr, {},
                           fs::path(rel).filename().string()});
    } else {
      for (auto& rel : resolve_in_root(request.from_root, text))
        sources.push_back({request.from_root, follow_in_root(request.from_root, rel), false, nullptr, {},
                           fs::path(rel).filename().string()});
    }
  }

  fs::path dest = fs::path(request.dest).lexically_normal().relative_path();
  if (dest.filename().empty() && !dest.empty()) dest = dest.parent_path();
  bool dest_dir = request.dest_is_dir_hint || sources.size() > 1 || request.dest == "/" || dest.empty();
  auto is_dir_source = [&](const Source& s) {
    return s.heredoc == nullptr && s.url.empty() && fs::is_directory(fs::symlink_status(s.root / s.rel));
  };
  if (!dest_dir && sources.size() == 1 && !is_dir_source(sources[0]) && builder.image_has_dir(dest)) dest_dir = true;

  for (const auto& s : sources) {
    if (s.heredoc) {
      fs::path target = dest_dir ? dest / s.rel : dest;
      builder.ensure_dir(target.parent_path(), false);
      util::write_file_atomic(tree / target, s.heredoc->content, 0644);
      ::chmod((tree / target).c_str(), chmod ? *chmod : 0644);
      set_owner(tree / target, owner);
      continue;
    }
    if (!s.url.empty()) {
      std::string name = s.url.substr(s.url.rfind('/') + 1);
      name = name.substr(0, name.find_first_of("?#"));
      if (name.empty()) name = "index.html";
      fs::path target = dest_dir ? dest / name : dest;
      builder.ensure_dir(target.parent_path(), false);
      download(s.url, tree / target);
      if (request.checksum) {
        auto want = util::Digest::parse(*request.checksum);
        auto got = util::sha256_of_file(tree / target);
        if (got != want) fail(ErrorKind::corrupt, "ADD {}: checksum mismatch: got {}, want {}", s.url, got.str(), want.str());
      }
      ::chmod((tree / target).c_str(), chmod ? *chmod : 0600);
      set_owner(tree / target, owner);
      continue;
    }
    fs::path from = s.rel.empty() ? s.root : s.root / s.rel;
    struct stat st;
    if (::lstat(from.c_str(), &st) < 0) throw util::sys_error("stat {}", from.string());
    if (request.add && S_ISREG(st.st_mode) && looks_like_archive(from)) {
      // ADD of a local archive: its contents land in dest.
      builder.ensure_dir(dest, true);
      layer::ApplyOptions apply;
      apply.chown = true;
      apply.single_id = userns::current_map().single_id();
      auto in = util::open_read(from);
      try {
        layer::apply_layer(in, tree / dest, apply);
      } catch (...) {
        util::rethrow_with("ADD {}: extract", s.rel);
      }
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      // A directory's contents, not the directory itself, go into dest.
      builder.ensure_dir(dest, true);
      auto visit = [&](const std::string& rel, const struct stat& est) {
        std::string sub = rel.size() > s.rel.size() ? rel.substr(s.rel.empty() ? 0 : s.rel.size() + 1) : "";
        if (sub.empty()) return;
        builder.copy_entry(s.root / rel, est, dest / sub);
      };
      if (s.context) context.walk(s.rel, visit);
      else walk_plain(s.root, s.rel, visit);
      continue;
    }
    fs::path target = dest_dir ? dest / (s.name.empty() ? fs::path(s.rel).filename().string() : s.name) : dest;
    builder.ensure_dir(target.parent_path(), dest_dir && target.parent_path() == dest);
    builder.copy_entry(from, st, target);
  }

  CommitOptions commit;
  commit.move_dir = true;
  commit.timestamp = timestamp;
  std::optional<util::Digest> parent;
  if (!layers.empty()) parent = layers.back();
  auto record = commit_layer(store, tree, parent, commit);
  return record;
}

std::optional<store::LayerRecord> workdir_step(store::Store& store, const std::vector<util::Digest>& layers,
                                               const std::string& dir, const std::string& user,
                                               const std::optional<std::int64_t>& timestamp) {
  fs::path rel = fs::path(dir).lexically_normal().relative_path();
  if (rel.filename().empty() && !rel.empty()) rel = rel.parent_path();
  if (rel.empty()) return std::nullopt;
  if (auto existing = find_in_layers(store, layers, rel.string()); existing && fs::is_directory(*existing))
    return std::nullopt;
  store::StagingDir staging = store.staging_dir("build-workdir");
  fs::path tree = staging.path() / "tree";
  util::make_dirs(tree, 0755);
  // The directories WORKDIR makes belong to the USER in effect (BuildKit), so that a
  // later RUN as that user can write there.
  Owner owner;
  if (!user.empty()) owner = resolve_owner(store, layers, user);
  TreeBuilder builder(store, layers, tree, owner, std::nullopt);
  builder.own_all_new_dirs(true);
  builder.ensure_dir(rel, false);
  CommitOptions commit;
  commit.move_dir = true;
  commit.timestamp = timestamp;
  std::optional<util::Digest> parent;
  if (!layers.empty()) parent = layers.back();
  return commit_layer(store, tree, parent, commit);
}

}  // namespace kiln::build
