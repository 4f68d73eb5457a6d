// The build driver: stages in dependency order, one instruction at a time,
// each looked up in the step cache first; metadata instructions change the
// config and add history, RUN/COPY/ADD/WORKDIR add layers; the target stage
// becomes an image. With --jobs, the stages that depend on no other stage are
// first built by child processes at the same time (into the step cache;
// quietly unless --progress=tty); the pass in order then finds them cached.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <set>

#include "archive/image_writer.hpp"
#include "archive/import.hpp"
#include "archive/lookup.hpp"
#include "build/build.hpp"
#include "build/cache.hpp"
#include "build/context.hpp"
#include "build/copy_step.hpp"
#include "build/history.hpp"
#include "build/layers.hpp"
#include "build/run_step.hpp"
#include "dockerfile/instructions.hpp"
#include "dockerfile/parser.hpp"
#include "dockerfile/stages.hpp"
#include "image/config.hpp"
#include "image/platform.hpp"
#include "layer/diff.hpp"
#include "userns/userns.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::build {
namespace {

using dockerfile::Instruction;
using dockerfile::Kind;

// Where a stage stands after some of its instructions.
struct State {
  std::vector<store::LayerRecord> layers;
  image::ImageConfig config;
  std::string key;       // the step cache key chain
  std::size_t base_layers = 0;
  std::size_t base_history = 0;

  std::vector<util::Digest> chain() const {
    std::vector<util::Digest> out;
    for (const auto& l : layers) out.push_back(l.chain_id);
    return out;
  }
};

// The PATH a stage gets when its base image sets none (as Docker's builders).
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string join(const std::vector<std::string>& words, std::string_view sep = " ") {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i) out += sep;
    out += words[i];
  }
  return out;
}

// The shell words of an instruction's argument text (CMD, ENTRYPOINT, RUN shell form).
std::vector<std::string> shell_form(const image::ImageConfig& config, const std::string& command) {
  std::vector<std::string> argv = config.config.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"}
                                                              : config.config.shell;
  argv.push_back(command);
  return argv;
}

class Builder {
public:
  Builder(store::Store& store, const BuildOptions& options, std::ostream& out)
      : store_(store), options_(options), out_(out), cache_(store) {}

  util::Digest run();

private:
  void say(std::string_view line) {
    if (!options_.quiet && !silent_) out_ << line << "\n" << std::flush;
  }
  bool tty() const { return options_.progress == ProgressMode::tty && !options_.quiet && !silent_; }
  // A step begins: plain mode prints its STEP line, tty mode remembers its status label.
  void begin_step(const std::string& text);
  // A step ends: tty mode prints its status line with the time taken (or CACHED, ERROR).
  void end_step(std::string_view status = "");
  void prebuild();
  // Enters kiln's user namespace (once) before work that needs it: running a step,
  // squashing, forking --jobs children. A build whose steps are all cached never does.
  void enter_namespace(std::string_view why) {
    if (userns::inside()) return;
    util::debug("build: entering the user namespace ({})", why);
    userns::enter();
  }
  std::string now_text() const {
    return util::rfc3339(options_.timestamp ? store::Clock::from_time_t(*options_.timestamp) : store::Clock::now());
  }
  State from_stage(const dockerfile::Stage& stage);
  State image_state(const std::string& name);
  const store::ImageRecord& find_image(const std::string& name);
  void build_stage(const dockerfile::Stage& stage);
  void step(State& state, dockerfile::StageScope& scope, const Instruction& in, bool trigger);
  // Runs `execute` unless the cache has key; either way state moves on to the result.
  void cached(State& state, const std::vector<std::string>& parts,
              const std::function<std::optional<store::LayerRecord>()>& execute,
              const std::function<void(image::ImageConfig&)>& update, const std::string& created_by);
  std::vector<util::Digest> layers_of(const std::string& name);
  void squash(State& state);
  util::Digest commit(State& state);

  store::Store& store_;
  const BuildOptions& options_;
  std::ostream& out_;
  StepCache cache_;
  std::optional<BuildContext> context_;
  dockerfile::Dockerfile dockerfile_;
  dockerfile::StagePlan plan_;
  std::map<std::size_t, State> results_;
  std::map<std::string, store::ImageRecord> images_;
  int step_no_ = 0, step_total_ = 0;
  bool use_cache_ = true;
  bool silent_ = false;  // a --jobs child under plain progress: no output at all
  std::string label_;    // tty: "[n/m] INSTRUCTION" of the current step
  std::chrono::steady_clock::time_point started_;
};

void Builder::begin_step(const std::string& text) {
  if (!tty()) {
    say(fmt::format("STEP {}/{}: {}", step_no_, step_total_, text));
    return;
  }
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 70) line = line.substr(0, 67) + "...";
  label_ = fmt::format("[{}/{}] {}", step_no_, step_total_, line);
  started_ = std::chrono::steady_clock::now();
}

// Each line is one write, so that --jobs children's lines do not mix.
void Builder::end_step(std::string_view status) {
  if (!tty() || label_.empty()) return;
  if (status.empty()) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
    out_ << fmt::format("{}  {:.1f}s\n", label_, took.count()) << std::flush;
  } else {
    out_ << fmt::format("{}  {}\n", label_, status) << std::flush;
  }
  label_.clear();
}

const store::ImageRecord& Builder::find_image(const std::string& name) {
  if (auto it = images_.find(name); it != images_.end()) return it->second;
  auto found = archive::lookup_image(*store_.image_index(), name, options_.search_registries);
  // --pull: always fetches (but a localhost/ image exists only here), missing fetches
  // what the store lacks, never fetches nothing.
  bool local = name.starts_with("localhost/");
  bool want = options_.pull == PullPolicy::always ? !local || !found.image
                                                   : options_.pull == PullPolicy::missing && !found.image;
  if (want && options_.pull_image && !local) {
    say(fmt::format("Trying to pull {}...", name));
    options_.pull_image(name);
    found = archive::lookup_image(*store_.image_index(), name, options_.search_registries);
  }
  if (!found.image)
    fail(ErrorKind::not_found, "no such image: {}{}", name,
         options_.pull == PullPolicy::never ? " (--pull=never)" : options_.pull_image ? "" : " (pulling is not available)");
  if (!archive::image_unpacked(store_, *found.image)) {
    enter_namespace(fmt::format("extract the layers of {}", name));  // extraction chowns
    archive::unpack_image(store_, *found.image);
  }
  return images_.emplace(name, *found.image).first->second;
}

State Builder::image_state(const std::string& name) {
  State state;
  if (name == "scratch") {
    auto host = image::host_platform();
    state.config.architecture = host.architecture;
    state.config.os = host.os;
    state.config.variant = host.variant;
    state.key = step_key("", {"FROM", "scratch"});
    return state;
  }
  const auto& record = find_image(name);
  state.config = image::ImageConfig::parse(store_.read_blob(record.config_digest)).fresh();
  for (const auto& chain : record.layers) state.layers.push_back(store_.layer(chain));
  state.key = step_key("", {"FROM", record.id.str()});
  return state;
}

std::vector<util::Digest> Builder::layers_of(const std::string& name) {
  if (const auto* stage = plan_.find(name)) {
    auto it = results_.find(stage->index);
    if (it == results_.end()) fail(ErrorKind::invalid_input, "stage {} was not built before it is used", name);
    return it->second.chain();
  }
  return image_state(name).chain();
}

State Builder::from_stage(const dockerfile::Stage& stage) {
  if (stage.platform) {
    auto want = image::Platform::parse(*stage.platform).normalized();
    auto host = image::host_platform().normalized();
    if (want.os != host.os || want.architecture != host.architecture)
      fail(ErrorKind::invalid_input, "--platform {}: only this host's platform ({}) can be built", *stage.platform,
           host.str());
  }
  State state = stage.base_stage ? results_.at(*stage.base_stage) : image_state(stage.base);
  if (!stage.base_stage) {
    // Docker (and buildah) give a stage whose base sets no PATH the default one.
    auto& env = state.config.config.env;
    bool has_path = std::any_of(env.begin(), env.end(), [](const std::string& e) { return e.starts_with("PATH="); });
    if (!has_path) env.push_back(std::string("PATH=") + kDefaultPath);
  }
  state.base_layers = state.layers.size();
  state.base_history = state.config.history.size();
  return state;
}

void Builder::cached(State& state, const std::vector<std::string>& parts,
                     const std::function<std::optional<store::LayerRecord>()>& execute,
                     const std::function<void(image::ImageConfig&)>& update, const std::string& created_by) {
  std::string key = step_key(state.key, parts);
  if (use_cache_) {
    if (auto hit = cache_.find(key)) {
      state.config = image::ImageConfig::parse(hit->config).fresh();
      if (hit->layer) state.layers.push_back(store_.layer(*hit->layer));
      state.key = key;
      if (tty()) end_step("CACHED");
      else say(fmt::format("--> Using cache {}", key));
      return;
    }
  }
  // tty: a RUN step's output follows its label.
  if (tty() && parts[0] == "RUN") out_ << label_ + "\n" << std::flush;
  std::optional<store::LayerRecord> layer;
  if (execute) {
    enter_namespace(fmt::format("step {} is not cached", step_no_));
    layer = execute();
  }
  update(state.config);
  image::HistoryEntry history;
  history.created = now_text();
  history.created_by = created_by;
  history.empty_layer = !layer.has_value();
  state.config.history.push_back(history);
  state.config.created = history.created;
  if (layer) {
    state.config.diff_ids.push_back(layer->diff_id);
    state.layers.push_back(*layer);
  }
  state.key = key;
  CacheEntry entry;
  if (layer) entry.layer = layer->chain_id;
  entry.config = state.config.bytes();
  if (options_.layers) cache_.put(key, entry);
  if (tty()) end_step();
  else say(fmt::format("--> {}", state.config.digest().short_hex()));
}

void Builder::step(State& state, dockerfile::StageScope& scope, const Instruction& raw, bool trigger) {
  ++step_no_;
  if (trigger) ++step_total_;
  begin_step(raw.original);
  const std::string& file = context_->dockerfile_name();
  auto& config = state.config;
  std::string keyword(dockerfile::keyword_of(raw.kind));
  auto nop = [&](const std::string& text) { return nop_created_by(keyword + " " + text); };
  auto meta = [&](const std::string& text, const std::function<void(image::ImageConfig&)>& update) {
    cached(state, {keyword, text}, nullptr, update, nop(text));
  };

  switch (raw.kind) {
    case Kind::arg: {
      // A stage's ARG is recorded in the history (an empty layer), as docker and buildah do.
      scope.declare(raw, file);
      std::string text = raw.original;
      if (auto pos = text.find_first_of(" \t"); pos != std::string::npos) text = std::string(util::trim(text.substr(pos)));
      meta(text, [](image::ImageConfig&) {});
      return;
    }
    case Kind::env: {
      // Expansion sees the variables before this instruction; apply_env does both.
      auto pairs = scope.apply_env(raw, file);
      std::string text;
      for (const auto& [k, v] : pairs) text += (text.empty() ? "" : " ") + k + "=" + v;
      meta(text, [&](image::ImageConfig& c) {
        for (const auto& [k, v] : pairs) c.config.set_env(k, v);
      });
      return;
    }
    case Kind::label: {
      auto in = scope.expand(raw, file);
      auto pairs = dockerfile::key_values(in);
      std::string text;
      for (const auto& [k, v] : pairs) text += (text.empty() ? "" : " ") + k + "=" + v;
      meta(text, [&](image::ImageConfig& c) {
        for (const auto& [k, v] : pairs) c.config.labels[k] = v;
      });
      return;
    }
    case Kind::maintainer: {
      auto in = scope.expand(raw, file);
      std::string who = in.args.empty() ? "" : in.args[0];
      meta(who, [&](image::ImageConfig& c) { c.author = who; });
      return;
    }
    case Kind::cmd:
    case Kind::entrypoint: {
      std::vector<std::string> argv = raw.json ? raw.args : shell_form(config, raw.args.empty() ? "" : raw.args[0]);
      bool entry = raw.kind == Kind::entrypoint;
      meta(raw.json ? json_words(argv) : join(argv), [&](image::ImageConfig& c) {
        if (entry) {
          c.config.entrypoint = argv;
          c.config.cmd.clear();  // a new ENTRYPOINT drops the base image's CMD (Docker)
        } else {
          c.config.cmd = argv;
        }
      });
      return;
    }
    case Kind::shell:
      meta(json_words(raw.args), [&](image::ImageConfig& c) { c.config.shell = raw.args; });
      return;
    case Kind::user: {
      auto in = scope.expand(raw, file);
      std::string user = in.args.empty() ? "" : in.args[0];
      meta(user, [&](image::ImageConfig& c) { c.config.user = user; });
      return;
    }
    case Kind::stopsignal: {
      auto in = scope.expand(raw, file);
      std::string sig = in.args.empty() ? "" : in.args[0];
      meta(sig, [&](image::ImageConfig& c) { c.config.stop_signal = sig; });
      return;
    }
    case Kind::expose: {
      auto in = scope.expand(raw, file);
      std::vector<std::string> ports;
      for (auto p : in.args) ports.push_back(p.find('/') == std::string::npos ? p + "/tcp" : p);
      meta(join(in.args), [&](image::ImageConfig& c) {
        for (const auto& p : ports) c.config.exposed_ports.insert(p);
      });
      return;
    }
    case Kind::volume: {
      auto in = scope.expand(raw, file);
      meta(in.json ? json_words(in.args) : join(in.args), [&](image::ImageConfig& c) {
        for (const auto& v : in.args) c.config.volumes.insert(v);
      });
      return;
    }
    case Kind::healthcheck: {
      auto spec = dockerfile::healthcheck_spec(raw, file);
      image::Healthcheck hc;
      hc.test = spec.test;
      hc.interval = spec.interval.count();
      hc.timeout = spec.timeout.count();
      hc.start_period = spec.start_period.count();
      hc.start_interval = spec.start_interval.count();
      hc.retries = spec.retries;
      std::string text = spec.test.size() == 1 && spec.test[0] == "NONE" ? "NONE" : json_words(spec.test);
      meta(text, [&](image::ImageConfig& c) { c.config.healthcheck = hc; });
      return;
    }
    case Kind::onbuild: {
      std::string trigger_text = raw.original;
      if (auto pos = trigger_text.find_first_of(" \t"); pos != std::string::npos)
        trigger_text = std::string(util::trim(trigger_text.substr(pos)));
      meta(trigger_text, [&](image::ImageConfig& c) { c.config.on_build.push_back(trigger_text); });
      return;
    }
    case Kind::workdir: {
      auto in = scope.expand(raw, file);
      std::string dir = in.args.empty() ? "/" : in.args[0];
      if (!dir.starts_with("/")) dir = (fs::path(config.config.working_dir.empty() ? "/" : config.config.working_dir) / dir).string();
      dir = fs::path(dir).lexically_normal().string();
      if (dir.size() > 1 && dir.ends_with("/")) dir.pop_back();
      auto chain = state.chain();
      cached(state, {keyword, dir}, [&] { return workdir_step(store_, chain, dir, config.config.user, options_.timestamp); },
             [&](image::ImageConfig& c) { c.config.working_dir = dir; }, nop(dir));
      return;
    }
    case Kind::run: {
      auto in = scope.expand(raw, file);  // expands flag values only
      RunStep run;
      if (raw.json) {
        run.argv = raw.args;
      } else {
        std::string command = raw.args.empty() ? "" : raw.args[0];
        std::string trimmed(util::trim(command));
        if (raw.heredocs.size() == 1 && trimmed.starts_with("<<") && trimmed.find(' ') == std::string::npos) {
          run.argv = shell_form(config, raw.heredocs[0].content);  // RUN <<EOF: the body is the script
        } else {
          for (const auto& h : raw.heredocs) command += "\n" + h.content + h.name;
          run.argv = shell_form(config, command);
        }
      }
      run.env = scope.run_env().strings();
      run.user = config.config.user;
      run.cwd = config.config.working_dir.empty() ? "/" : config.config.working_dir;
      run.volumes.assign(config.config.volumes.begin(), config.config.volumes.end());
      run.network = options_.network;
      if (auto net = dockerfile::flag_value(in, "network")) {
        if (*net == "none") run.network = runtime::NetworkMode::none;
        else if (*net == "host" || *net == "default") run.network = runtime::NetworkMode::host;
        else throw Error(SourceLocation{file, raw.start_line, 1}, fmt::format("RUN --network={}: want none or host", *net));
      }
      std::string mount_text;
      for (const auto& m : dockerfile::flag_values(in, "mount")) {
        run.mounts.push_back(parse_run_mount(m));
        mount_text += " --mount=" + m;
      }
      auto args = scope.args_in_effect();
      std::vector<std::string> arg_words;
      for (const auto& [k, v] : args) arg_words.push_back(k + "=" + v);
      RunEnvironment env{store_, options_, *context_, [this](const std::string& n) { return layers_of(n); },
                         options_.quiet || silent_ ? -1 : 2};
      auto chain = state.chain();
      cached(state,
             {keyword, json_words(run.argv), join(arg_words, "\n"), mount_text,
              run.network == runtime::NetworkMode::none ? "none" : "host"},
             [&] { return run_step(env, chain, run); }, [](image::ImageConfig&) {},
             run_created_by(run.argv, args));
      return;
    }
    case Kind::copy:
    case Kind::add: {
      auto in = scope.expand(raw, file);
      if (in.args.size() < 2) throw Error(SourceLocation{file, raw.start_line, 1}, keyword + " requires at least two arguments");
      CopyRequest request;
      request.add = raw.kind == Kind::add;
      request.sources.assign(in.args.begin(), in.args.end() - 1);
      std::string dest = in.args.back();
      request.dest_is_dir_hint = dest.ends_with("/");
      if (!dest.starts_with("/"))
        dest = (fs::path(config.config.working_dir.empty() ? "/" : config.config.working_dir) / dest).string();
      request.dest = dest;
      request.chown = dockerfile::flag_value(in, "chown");
      request.chmod = dockerfile::flag_value(in, "chmod");
      request.checksum = dockerfile::flag_value(in, "checksum");
      request.heredocs = raw.heredocs;
      std::string content;
      std::optional<MountedStack> from_mount;
      auto from = dockerfile::flag_value(in, "from");
      auto chain = state.chain();
      std::vector<std::string> rels;
      if (from) {
        if (const auto* stage = plan_.find(*from)) content = "stage:" + results_.at(stage->index).key;
        else content = "image:" + find_image(*from).id.str();
      } else {
        rels = context_sources(*context_, request);
        content = context_->digest(rels);
      }
      for (const auto& h : raw.heredocs) content += "\nheredoc:" + h.name + "\n" + h.content;
      std::string kind = request.sources.size() > 1 ? "multi"
                         : (rels.size() == 1 && fs::is_directory(context_->dir() / rels[0])) ? "dir"
                                                                                            : "file";
      std::string hex(util::sha256_of(content).hex());
      std::string flags = join(in.flags);
      cached(state, {keyword, flags, json_words(in.args), content},
             [&]() -> std::optional<store::LayerRecord> {
               if (from) {
                 from_mount.emplace(store_, options_.driver, layers_of(*from), false);
                 request.from_root = from_mount->root();
               }
               return copy_step(store_, *context_, chain, request, options_.timestamp);
             },
             [](image::ImageConfig&) {}, copy_created_by(keyword, kind, hex, request.dest));
      return;
    }
    case Kind::from:
    case Kind::unknown:
      break;
  }
  throw Error(SourceLocation{file, raw.start_line, 1}, fmt::format("unexpected instruction {}", raw.keyword));
}

void Builder::build_stage(const dockerfile::Stage& stage) {
  const auto& from = dockerfile_.instructions[stage.from_instruction];
  const std::string& file = context_->dockerfile_name();
  ++step_no_;
  begin_step(from.original);
  State state;
  try {
    state = from_stage(stage);
    end_step();
  } catch (const std::exception& e) {
    end_step("ERROR");
    throw Error(SourceLocation{file, from.start_line, 0},
                fmt::format("step {}/{} {}: {}", step_no_, step_total_, from.original, util::describe(e)),
                util::kind_of(e));
  }
  dockerfile::StageScope scope(plan_.globals, options_.build_args, dockerfile_.escape);
  dockerfile::Env image_env;
  for (const auto& entry : state.config.config.env) {
    if (auto kv = util::split_once(entry, '=')) image_env.set(kv->first, kv->second);
    else image_env.set(entry, "");
  }
  scope.set_image_env(image_env);

  auto run_one = [&](const Instruction& in, bool trigger) {
    try {
      step(state, scope, in, trigger);
    } catch (const std::exception& e) {
      end_step("ERROR");
      std::string text = in.original.size() > 60 ? in.original.substr(0, 57) + "..." : in.original;
      throw Error(SourceLocation{file, in.start_line, 0},
                  fmt::format("step {}/{} {}: {}", step_no_, step_total_, text, util::describe(e)), util::kind_of(e));
    }
  };
  // ONBUILD triggers of the base image run first, then leave the config.
  if (!stage.base_stage && !state.config.config.on_build.empty()) {
    auto triggers = state.config.config.on_build;
    state.config.config.on_build.clear();
    std::string text;
    for (const auto& t : triggers) text += t + "\n";
    auto parsed = dockerfile::parse(text, file + " (ONBUILD)");
    for (const auto& in : parsed.instructions) run_one(in, true);
  }
  for (std::size_t i : stage.instructions) run_one(dockerfile_.instructions[i], false);
  results_[stage.index] = std::move(state);
}

void Builder::squash(State& state) {
  if (state.layers.size() <= state.base_layers + 1) return;
  enter_namespace("squash");
  std::vector<util::Digest> base;
  for (std::size_t i = 0; i < state.base_layers; ++i) base.push_back(state.layers[i].chain_id);
  MountedStack full(store_, options_.driver, state.chain(), false);
  std::optional<MountedStack> below;
  fs::path lower;
  if (base.empty()) {
    lower = full.staging() / "empty";
    util::make_dirs(lower, 0755);
  } else {
    below.emplace(store_, options_.driver, base, false);
    lower = below->root();
  }
  auto changes = layer::diff_trees(lower, full.root());
  CommitOptions commit;
  commit.timestamp = options_.timestamp;
  std::optional<util::Digest> parent;
  if (!base.empty()) parent = base.back();
  auto layer = commit_layer(store_, full.root(), parent, commit, &changes);
  state.layers.resize(state.base_layers);
  state.layers.push_back(layer);
  state.config.diff_ids.resize(state.base_layers);
  state.config.diff_ids.push_back(layer.diff_id);
  // One history entry carries the new layer: the last one of this build that had one.
  auto& history = state.config.history;
  std::optional<std::size_t> last;
  for (std::size_t i = state.base_history; i < history.size(); ++i)
    if (!history[i].empty_layer) {
      history[i].empty_layer = true;
      last = i;
    }
  if (last) history[*last].empty_layer = false;
}

util::Digest Builder::commit(State& state) {
  if (options_.squash || !options_.layers) squash(state);
  auto& config = state.config;
  for (const auto& [k, v] : options_.labels) {
    // Each --label is recorded like a LABEL instruction at the end (as buildah does).
    config.config.labels[k] = v;
    // Its time is the last step's, so that a fully cached rebuild gives the same image.
    image::HistoryEntry history;
    history.created = config.created.empty() ? now_text() : config.created;
    history.created_by = nop_created_by("LABEL " + k + "=" + v);
    history.empty_layer = true;
    config.history.push_back(history);
  }
  if (!options_.docker_format) {
    // OCI image configs have no such fields: buildah warns and drops them.
    if (config.config.healthcheck) util::warn("HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format");
    if (!config.config.shell.empty()) util::warn("SHELL is not supported for OCI image format, [{}] will be ignored. Must use `docker` format", join(config.config.shell, " "));
    if (!config.config.on_build.empty()) util::warn("ONBUILD is not supported for OCI image format, {} will be ignored. Must use `docker` format", join(config.config.on_build, " "));
    config.config.healthcheck.reset();
    config.config.shell.clear();
    config.config.on_build.clear();
  }
  if (options_.timestamp) config.set_created(store::Clock::from_time_t(*options_.timestamp));
  if (config.created.empty()) config.created = now_text();
  archive::WriteImageOptions write;
  write.names = options_.tags;
  write.docker_format = options_.docker_format;
  say(fmt::format("COMMIT {}", options_.tags.empty() ? "" : options_.tags[0]));
  auto written = archive::write_image(store_, state.layers, config.bytes(), write);
  say(fmt::format("--> {}", written.record.id.short_hex()));
  for (const auto& name : options_.tags) say(fmt::format("Successfully tagged {}", name));
  return written.record.id;
}

void Builder::prebuild() {
  std::vector<std::size_t> roots;
  for (auto i : plan_.order)
    if (plan_.stages[i].depends_on.empty()) roots.push_back(i);
  if (roots.size() < 2) return;
  // Base images are looked up (and pulled) here, once, not by children at the same time.
  // A failure is left to the pass in order, which reports it where it belongs.
  try {
    for (auto i : roots)
      if (!plan_.stages[i].base_stage) image_state(plan_.stages[i].base);
  } catch (const std::exception& e) {
    util::debug("build: no parallel stages: {}", util::describe(e));
    return;
  }
  // Before fork: the children must not each set up a namespace of their own.
  enter_namespace("parallel stages");
  auto started = std::chrono::steady_clock::now();
  if (tty())
    out_ << fmt::format("[+] building {} stages in parallel (--jobs {})\n", roots.size(), options_.jobs) << std::flush;
  std::cout.flush();
  std::cerr.flush();
  // A child numbers its steps as the pass in order does.
  std::map<std::size_t, int> first_step;
  int steps = 0;
  for (auto i : plan_.order) {
    first_step[i] = steps;
    steps += 1 + static_cast<int>(plan_.stages[i].instructions.size());
  }
  // Plain progress stays as without --jobs: children print nothing there. With tty progress
  // they print their status lines and RUN output as they go. A stage that failed is built
  // again in order and fails there, with its output and its step named as without --jobs.
  std::map<pid_t, std::size_t> running;
  std::size_t next = 0, failed = 0;
  while (next < roots.size() || !running.empty()) {
    while (next < roots.size() && failed == 0 && running.size() < static_cast<std::size_t>(options_.jobs)) {
      pid_t pid = ::fork();
      if (pid < 0) throw util::sys_error("fork for build stage {}", roots[next]);
      if (pid == 0) {
        int code = 0;
        try {
          silent_ = !tty();
          step_no_ = first_step[roots[next]];
          build_stage(plan_.stages[roots[next]]);
        } catch (...) {
          code = 1;
        }
        ::_exit(code);
      }
      running.emplace(pid, roots[next++]);
    }
    if (running.empty()) break;
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw util::sys_error("waitpid for build stages");
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ++failed;
      util::debug("build: stage {} failed in parallel", it->second);
    }
    running.erase(it);
  }
  if (tty()) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    out_ << fmt::format("[+] parallel stages {}  {:.1f}s\n", failed ? "FAILED" : "done", took.count()) << std::flush;
  }
}

util::Digest Builder::run() {
  if (options_.platform) {
    auto want = image::Platform::parse(*options_.platform).normalized();
    auto host = image::host_platform().normalized();
    if (want.os != host.os || want.architecture != host.architecture)
      fail(ErrorKind::invalid_input, "--platform {}: only this host's platform ({}) can be built", *options_.platform,
           host.str());
  }
  use_cache_ = !options_.no_cache && options_.layers;
  context_.emplace(BuildContext::open(store_, options_));
  dockerfile_ = dockerfile::parse(context_->dockerfile_text(), context_->dockerfile_name());
  dockerfile::StageOptions stage_options;
  stage_options.build_args = options_.build_args;
  stage_options.target = options_.target;
  auto host = image::host_platform();
  stage_options.target_platform = {host.os, host.architecture, host.variant};
  stage_options.build_platform = stage_options.target_platform;
  plan_ = dockerfile::plan_stages(dockerfile_, stage_options);
  for (auto i : plan_.order) step_total_ += 1 + static_cast<int>(plan_.stages[i].instructions.size());
  if (options_.jobs > 1 && use_cache_) prebuild();
  for (auto i : plan_.order) build_stage(plan_.stages[i]);
  if (!plan_.unused_build_args.empty())
    util::warn("one or more build args were not consumed: [{}]", join(plan_.unused_build_args, " "));
  context_->save_hashes();
  return commit(results_.at(plan_.target));
}

}  // namespace

util::Digest build(store::Store& store, const BuildOptions& options, std::ostream& progress) {
  Builder builder(store, options, progress);
  return builder.run();
}

std::size_t prune_cache(store::Store& store) {
  std::size_t removed = 0;
  for (const char* sub : {"steps", "mounts", "files"}) {
    fs::path dir = store.cache_dir() / sub;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      util::remove_tree_or_throw(it->path());
      ++removed;
    }
  }
  return removed;
}

}  // namespace kiln::build
