// `kiln commit`, `kiln diff` and `kiln export`: a container's rw layer read
// back, as a new image, a change list or a tar of the whole file system. They
// run inside kiln's user namespace, where the rw layer's files are readable.
#include <fcntl.h>
#include <unistd.h>

#include <iostream>

#include "archive/lookup.hpp"
#include "cli/command.hpp"
#include "cli/context.hpp"
#include "runtime/commit.hpp"
#include "runtime/diff.hpp"
#include "runtime/export.hpp"
#include "runtime/lifecycle.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::cli {
namespace {

int run_commit(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  const auto& pos = args.positional();
  runtime::CommitOptions options;
  std::string format = args.get_or("format", "oci");
  if (format != "oci" && format != "docker")
    fail(ErrorKind::invalid_input, "commit: invalid --format \"{}\": want oci or docker", format);
  options.docker_format = format == "docker";
  options.changes = args.all("change");
  options.message = args.get_or("message", "");
  options.author = args.get_or("author", "");
  try {
    if (pos.size() > 1) options.names = {archive::normalize_new_name(pos[1])};
    auto record = runtime::reconciled(store, pos[0]);
    auto written = runtime::commit_container(store, record, options);
    std::cout << written.record.id.hex() << "\n";
  } catch (...) {
    util::rethrow_with("commit");
  }
  return 0;
}

int run_diff(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  try {
    auto record = runtime::reconciled(store, args.positional()[0]);
    std::string out;
    for (const auto& line : runtime::diff_lines(runtime::container_changes(store, record))) out += line + "\n";
    std::cout << out;
  } catch (...) {
    util::rethrow_with("diff");
  }
  return 0;
}

int run_export(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto store = store::Store::open(ctx.root);
  try {
    auto record = runtime::reconciled(store, args.positional()[0]);
    if (auto output = args.get("output")) {
      // Written beside the target and renamed: a failed export leaves no partial file.
      std::filesystem::path target = *output;
      std::filesystem::path partial = target.string() + ".partial";
      auto out = util::open_file(partial, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      try {
        runtime::export_container(store, record, out.borrow());
      } catch (...) {
        ::unlink(partial.c_str());
        throw;
      }
      out.reset();
      std::filesystem::rename(partial, target);
    } else {
      if (::isatty(STDOUT_FILENO))
        fail(ErrorKind::invalid_input, "refusing to write a tar archive to a terminal: use -o FILE or redirect");
      runtime::export_container(store, record, util::Fd(STDOUT_FILENO));
    }
  } catch (...) {
    util::rethrow_with("export");
  }
  return 0;
}

const Registration kCommit{{"commit", "container commit"}, [] {
  return Command{
      .name = "commit",
      .aliases = {"container commit"},
      .usage_args = "[OPTIONS] CONTAINER [IMAGE]",
      .summary = "Create an image from a container's changes",
      .description = "Writes the container's changes as a new layer on top of its image and records an image "
                     "(named IMAGE when given) whose config is the image's with the container's command, "
                     "environment and user, then the --change lines. Prints the new image's id.",
      .options = {
          {.long_name = "author", .short_name = 'a', .arg = "AUTHOR", .help = "Set the image's author"},
          {.long_name = "change", .short_name = 'c', .arg = "INSTRUCTION",
           .help = "Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, ...)", .repeatable = true},
          {.long_name = "format", .short_name = 'f', .arg = "FORMAT", .help = "Manifest format: oci or docker",
           .complete = Complete::choice, .choices = {"oci", "docker"}, .default_value = "oci"},
          {.long_name = "message", .short_name = 'm', .arg = "MESSAGE", .help = "Set the history entry's comment"},
          {.long_name = "quiet", .short_name = 'q', .help = "Print only the image id"},
      },
      .min_args = 1,
      .max_args = 2,
      .arg_complete = Complete::container,
      .run = run_commit,
  };
}};

const Registration kDiff{{"diff", "container diff"}, [] {
  return Command{
      .name = "diff",
      .aliases = {"container diff"},
      .usage_args = "CONTAINER",
      .summary = "List the files a container changed",
      .description = "Prints one line per changed path, sorted: A (added), C (changed) or D (deleted), "
                     "then the path. Directories above a change count as changed, as in docker diff.",
      .min_args = 1,
      .max_args = 1,
      .arg_complete = Complete::container,
      .run = run_diff,
  };
}};

const Registration kExport{{"export", "container export"}, [] {
  return Command{
      .name = "export",
      .aliases = {"container export"},
      .usage_args = "[OPTIONS] CONTAINER",
      .summary = "Write a container's file system as a tar archive",
      .description = "Writes the container's whole file system (its image and its changes) as an "
                     "uncompressed tar archive to standard output, which must not be a terminal, or to "
                     "the file -o names.",
      .options = {
          {.long_name = "output", .short_name = 'o', .arg = "FILE", .help = "Write to FILE instead of standard output",
           .complete = Complete::file},
      },
      .min_args = 1,
      .max_args = 1,
      .arg_complete = Complete::container,
      .run = run_export,
  };
}};

}  // namespace
}  // namespace kiln::cli
