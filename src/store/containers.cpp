// Containers: containers/<id>/ with container.json; the runtime keeps its own
// files (rw layer, log, pid) beside the record. The store only guarantees
// unique names, records that point at existing images and layers, and
// crash-safe creation and removal.
#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "store/failpoint.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::store {

namespace {

constexpr const char* kContainerRecord = "container.json";


}  // namespace

std::string new_container_id() {
  unsigned char bytes[32];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw util::sys_error("getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

fs::path Store::container_dir(std::string_view id) const { return root_ / "containers" / std::string(id); }

std::optional<ContainerRecord> Store::read_container(const fs::path& dir) const {
  auto path = dir / kContainerRecord;
  auto text = util::try_read_file(path);
  if (!text) return std::nullopt;
  return container_from_json(util::parse_json(*text, path.string()), path.string());
}

std::vector<ContainerRecord> Store::list_containers() const {
  auto lock = read_lock();
  std::vector<ContainerRecord> out;
  std::error_code ec;
  for (fs::directory_iterator it(root_ / "containers", ec), end; !ec && it != end; it.increment(ec)) {
    if (!is_hex64(it->path().filename().string())) continue;
    try {
      if (auto record = read_container(it->path())) out.push_back(std::move(*record));
    } catch (const Error&) {
      // Corrupt records are check()'s business.
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.created < b.created; });
  return out;
}

std::optional<ContainerRecord> Store::find_container(std::string_view name_or_id) const {
  if (name_or_id.empty()) return std::nullopt;
  auto all = list_containers();
  for (const auto& c : all)
    if (c.id == name_or_id || c.name == name_or_id) return c;
  if (name_or_id.size() < 3) return std::nullopt;
  const ContainerRecord* found = nullptr;
  std::size_t matches = 0;
  for (const auto& c : all) {
    if (c.id.starts_with(name_or_id)) {
      found = &c;
      ++matches;
    }
  }
  if (matches > 1)
    fail(ErrorKind::invalid_input, "short id \"{}\" is ambiguous: it matches {} containers", name_or_id, matches);
  if (!found) return std::nullopt;
  return *found;
}

ContainerRecord Store::container(std::string_view name_or_id) const {
  auto found = find_container(name_or_id);
  if (!found) fail(ErrorKind::not_found, "no such container: {}", name_or_id);
  return std::move(*found);
}

ContainerRecord Store::add_container(ContainerRecord record, bool durable) {
  try {
    if (record.id.empty()) record.id = new_container_id();
    if (!is_hex64(record.id)) fail(ErrorKind::invalid_input, "container id must be 64 hex digits");
    if (record.name.empty() || record.name.find('/') != std::string::npos)
      fail(ErrorKind::invalid_input, "container name \"{}\" is not valid", record.name);
    if (record.created == Clock::time_point{}) record.created = Clock::now();

    // The staging entry (0700, like every container directory) becomes the container's
    // directory itself: one directory made and renamed, none left to remove.
    StagingDir entry = staging_dir("container");
    const fs::path& staged = entry.path();
    // Nobody reads the entry before the rename below: the record is written in place.
    util::write_new_file(staged / kContainerRecord, to_json(record).dump(), durable);
    if (durable) util::fsync_path(staged);

    auto lock = write_lock();
    if (!load_index()->by_id(record.image_id))
      fail(ErrorKind::not_found, "no such image: {}", record.image_id.str());
    if (record.top_layer && !has_layer(*record.top_layer))
      fail(ErrorKind::not_found, "layer {} is not in the store", record.top_layer->str());
    for (const auto& other : list_containers())
      if (other.name == record.name || other.id == record.id)
        fail(ErrorKind::conflict, "the container name \"{}\" is already in use by {}", record.name,
             other.id.substr(0, 12));
    failpoint("container-before-rename");
    fs::path target = container_dir(record.id);
    if (durable)
      util::rename_durable(staged, target);
    else if (::rename(staged.c_str(), target.c_str()) < 0)
      throw util::sys_error("rename {} to {}", staged.string(), target.string());
    entry.keep();
    return record;
  } catch (...) {
    util::rethrow_with("create container {}", record.name);
  }
}

void Store::update_container(const ContainerRecord& record, bool durable) {
  auto lock = write_lock();
  auto dir = container_dir(record.id);
  auto current = is_hex64(record.id) ? read_container(dir) : std::nullopt;
  if (!current) fail(ErrorKind::not_found, "no such container: {}", record.id);
  if (current->name != record.name) {
    if (record.name.empty() || record.name.find('/') != std::string::npos)
      fail(ErrorKind::invalid_input, "container name \"{}\" is not valid", record.name);
    for (const auto& other : list_containers())
      if (other.name == record.name)
        fail(ErrorKind::conflict, "the container name \"{}\" is already in use by {}", record.name,
             other.id.substr(0, 12));
  }
  publish_file(dir / kContainerRecord, to_json(record).dump(), durable);
}

void Store::remove_container(std::string_view id, bool durable, bool in_background) {
  std::vector<StagingDir> graves;  // outlive the lock: deleting the rw layer happens unlocked
  {
    auto lock = write_lock();
    auto dir = container_dir(id);
    if (!is_hex64(id) || !fs::exists(dir)) fail(ErrorKind::not_found, "no such container: {}", id);
    unpublish(dir, graves, durable);
  }
  if (in_background) remove_in_background(graves);
}

}  // namespace kiln::store
