// `kiln save` and `kiln load`: images to and from docker-archive, oci-archive and
// oci-dir, as podman save/load. The work is in src/archive (save.hpp, load.hpp);
// here are the option tables, the terminal checks podman makes, and the output.
#include <unistd.h>

#include <iostream>

#include "archive/load.hpp"
#include "archive/save.hpp"
#include "cli/command.hpp"
#include "cli/context.hpp"
#include "store/store.hpp"
#include "util/error.hpp"

namespace kiln::cli {
namespace {

int run_save(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto format = archive::parse_save_format(args.get_or("format", "docker-archive"));
  auto output = args.get("output");
  if (format == archive::SaveFormat::oci_dir && !output)
    fail(ErrorKind::invalid_input, "save: the oci-dir format needs an output directory: use -o DIR");
  if (!output && ::isatty(STDOUT_FILENO))
    fail(ErrorKind::invalid_input, "save: refusing to write an archive to a terminal: use -o or redirect stdout");

  auto store = store::Store::open(ctx.root);
  std::vector<archive::SaveImage> images;
  for (const auto& name : args.positional()) images.push_back(archive::resolve_save_image(store, name, ctx.config.search_registries));
  if (output) archive::save_to_path(store, images, format, *output);
  else archive::save_to_fd(store, images, format, util::Fd(STDOUT_FILENO));
  return 0;
}

int run_load(const Args& args) {
  Context ctx = Context::resolve(args.global());
  auto input = args.get("input");
  if (!input && ::isatty(STDIN_FILENO))
    fail(ErrorKind::invalid_input, "load: cannot read an archive from a terminal: use -i or redirect stdin");
  auto store = store::Store::open(ctx.root);
  auto loaded = input ? archive::load_from_path(store, *input)
                      : archive::load_from_fd(store, util::Fd(STDIN_FILENO), "stdin");
  for (const auto& line : archive::loaded_lines(loaded)) std::cout << line << "\n";
  return 0;
}

const Registration kSave{{"save", "image save"}, [] {
  return Command{
      .name = "save",
      .aliases = {"image save"},
      .usage_args = "[OPTIONS] IMAGE [IMAGE...]",
      .summary = "Save images to an archive",
      .description = "Writes the images as a docker-archive (what docker save and podman save write), an "
                     "oci-archive or an oci-dir, to FILE or to stdout. Several images go into one archive; "
                     "a failed save leaves no partial file.",
      .options =
          {
              {.long_name = "output", .short_name = 'o', .arg = "FILE",
               .help = "Write to FILE (a directory for oci-dir) instead of stdout", .complete = Complete::file},
              {.long_name = "format", .arg = "FORMAT", .help = "Archive format",
               .complete = Complete::choice, .choices = {"docker-archive", "oci-archive", "oci-dir"},
               .default_value = "docker-archive"},
              {.long_name = "multi-image-archive", .short_name = 'm',
               .help = "Allow several images in one archive (always allowed; accepted for podman)"},
              {.long_name = "quiet", .short_name = 'q', .help = "Print no progress"},
          },
      .min_args = 1,
      .arg_complete = Complete::image,
      .needs_userns = false,
      .run = run_save,
  };
}};

const Registration kLoad{{"load", "image load"}, [] {
  return Command{
      .name = "load",
      .aliases = {"image load"},
      .usage_args = "[OPTIONS]",
      .summary = "Load images from an archive",
      .description = "Reads a docker-archive, an oci-archive (either possibly compressed) or an OCI layout "
                     "directory from FILE or stdin and stores its images under the names the archive gives "
                     "them. Prints one \"Loaded image:\" line per name.",
      .options =
          {
              {.long_name = "input", .short_name = 'i', .arg = "FILE",
               .help = "Read from FILE (an archive or a directory) instead of stdin", .complete = Complete::file},
              {.long_name = "quiet", .short_name = 'q', .help = "Print no progress"},
          },
      .max_args = 0,
      .run = run_load,
  };
}};

}  // namespace
}  // namespace kiln::cli
