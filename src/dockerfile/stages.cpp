// Stage splitting and dependency resolution. Each stage is walked once with
// a StageScope so that `COPY --from=${BUILDER}` resolves with the same ARG and
// ENV values the build will see (the base image's own Env is not known here).
#include "dockerfile/stages.hpp"

#include <functional>

#include "dockerfile/instructions.hpp"
#include "dockerfile/runes.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::dockerfile {
namespace {

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

[[noreturn]] void fail_at(const Dockerfile& df, const Instruction& at, std::string message) {
  throw Error(SourceLocation{df.file, at.start_line, 1}, std::move(message));
}

std::optional<std::size_t> stage_named(const std::vector<Stage>& stages, std::string_view name) {
  std::string wanted = util::ascii_lower(name);
  for (const auto& stage : stages) {
    if (!stage.name.empty() && stage.name == wanted) return stage.index;
  }
  return std::nullopt;
}

// A --from / from= reference: a stage (by name or earlier index) or an image (nullopt).
std::optional<std::size_t> resolve_reference(const Dockerfile& df, const Instruction& at,
                                             const std::vector<Stage>& stages,
                                             std::size_t current, const std::string& ref) {
  if (all_digits(ref)) {
    std::size_t index = std::stoul(ref);
    if (index >= current) {
      fail_at(df, at, fmt::format("invalid from flag value {}: refers to current or future "
                                  "build stage", ref));
    }
    return index;
  }
  auto found = stage_named(stages, ref);
  if (found && *found == current) {
    fail_at(df, at, fmt::format("circular dependency detected on stage: {}", stages[current].name));
  }
  return found;
}

}  // namespace

const Stage* StagePlan::find(std::string_view name_or_index) const {
  if (all_digits(name_or_index)) {
    std::size_t index = std::stoul(std::string(name_or_index));
    return index < stages.size() ? &stages[index] : nullptr;
  }
  auto found = stage_named(stages, name_or_index);
  return found ? &stages[*found] : nullptr;
}

std::optional<std::string> mount_from(std::string_view spec) {
  std::size_t start = 0;
  while (start <= spec.size()) {
    std::size_t comma = spec.find(',', start);
    std::string_view field = spec.substr(start, comma - start);
    if (field.starts_with("from=")) return std::string(field.substr(5));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return std::nullopt;
}

StagePlan plan_stages(const Dockerfile& df, const StageOptions& options) {
  StagePlan plan;
  plan.globals = GlobalArgs(df, options.build_args,
                            platform_args(options.target_platform, options.build_platform));
  ShellLexer lexer(df.escape);

  // Split at FROM; only ARG may come before the first one.
  for (std::size_t i = 0; i < df.instructions.size(); ++i) {
    const Instruction& in = df.instructions[i];
    if (in.kind != Kind::from) {
      if (plan.stages.empty()) {
        if (in.kind != Kind::arg) fail_at(df, in, "no build stage in current context");
        continue;
      }
      plan.stages.back().instructions.push_back(i);
      continue;
    }
    Stage stage;
    stage.index = plan.stages.size();
    stage.from_instruction = i;
    FromSpec spec = from_spec(in);
    auto expand_global = [&](const std::string& text) {
      try {
        return lexer.process_word(text, plan.globals.values());
      } catch (const Error& e) {
        fail_at(df, in, e.what());
      }
    };
    stage.base = expand_global(spec.image);
    if (stage.base.empty()) fail_at(df, in, fmt::format("base name ({}) should not be blank", spec.image));
    if (spec.platform) stage.platform = expand_global(*spec.platform);
    if (spec.stage_name) {
      if (stage_named(plan.stages, *spec.stage_name))
        fail_at(df, in, fmt::format("duplicate stage name {}", go_quote(*spec.stage_name)));
      stage.name = *spec.stage_name;
    }
    plan.stages.push_back(std::move(stage));
  }
  if (plan.stages.empty()) {
    throw Error(SourceLocation{df.file, df.instructions.empty() ? 0 : df.instructions.back().start_line, 1},
                "no build stage in current context");
  }

  // Dependencies, with each stage's ARG/ENV scope for expanding references.
  std::vector<std::set<std::string>> consumed(plan.stages.size());
  for (auto& stage : plan.stages) {
    const Instruction& from = df.instructions[stage.from_instruction];
    if (auto base = stage_named(plan.stages, stage.base)) {
      if (*base == stage.index)
        fail_at(df, from, fmt::format("circular dependency detected on stage: {}", stage.name));
      stage.base_stage = base;
      stage.depends_on.insert(*base);
    }
    StageScope scope(plan.globals, options.build_args, df.escape);
    for (std::size_t i : stage.instructions) {
      const Instruction& in = df.instructions[i];
      std::vector<std::string> refs;
      if (in.kind == Kind::arg) {
        scope.declare(in, df.file);
      } else if (in.kind == Kind::env) {
        scope.apply_env(in, df.file);
      } else if (in.kind == Kind::copy && flag_value(in, "from")) {
        refs.push_back(*flag_value(in, "from"));
      } else if (in.kind == Kind::run) {
        for (const auto& mount : flag_values(in, "mount")) {
          if (auto ref = mount_from(mount)) refs.push_back(*ref);
        }
      }
      for (const auto& raw : refs) {
        std::string ref;
        try {
          ref = lexer.process_word(raw, scope.lookup());
        } catch (const Error& e) {
          fail_at(df, in, e.what());
        }
        if (auto dep = resolve_reference(df, in, plan.stages, stage.index, ref))
          stage.depends_on.insert(*dep);
      }
    }
    consumed[stage.index] = scope.consumed();
  }

  // Target and the stages it needs, dependencies first (depth-first, cycles rejected).
  plan.target = plan.stages.size() - 1;
  if (options.target) {
    const Stage* target = plan.find(*options.target);
    if (!target || all_digits(*options.target)) {
      throw Error(fmt::format("target stage {} could not be found", go_quote(*options.target)),
                  ErrorKind::not_found);
    }
    plan.target = target->index;
  }
  enum class Mark { none, visiting, done };
  std::vector<Mark> marks(plan.stages.size(), Mark::none);
  std::function<void(std::size_t)> visit = [&](std::size_t index) {
    if (marks[index] == Mark::done) return;
    const Stage& stage = plan.stages[index];
    if (marks[index] == Mark::visiting) {
      fail_at(df, df.instructions[stage.from_instruction],
              fmt::format("circular dependency detected on stage: {}",
                          stage.name.empty() ? std::to_string(index) : stage.name));
    }
    marks[index] = Mark::visiting;
    for (std::size_t dep : stage.depends_on) visit(dep);
    marks[index] = Mark::done;
    plan.order.push_back(index);
  };
  visit(plan.target);

  std::set<std::string> all_consumed = plan.globals.names();
  for (std::size_t index : plan.order) all_consumed.insert(consumed[index].begin(), consumed[index].end());
  plan.unused_build_args = unused_build_args(options.build_args, all_consumed);
  return plan;
}

}  // namespace kiln::dockerfile
