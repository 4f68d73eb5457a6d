// `kiln import FILE|- [REFERENCE]`: a root filesystem tarball becomes a
// one-layer image (archive::import_rootfs). Prints the new image's id.
#include <fcntl.h>

#include <iostream>

#include "archive/import.hpp"
#include "archive/lookup.hpp"
#include "cli/command.hpp"
#include "cli/context.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::cli {
namespace {

int run_import(const Args& args) {
  Context ctx = Context::resolve(args.global());
  const std::string& source = args.positional()[0];
  archive::ImportOptions options;
  // The name is checked before the (possibly long) read.
  if (args.positional().size() > 1) options.names = {archive::normalize_new_name(args.positional()[1])};
  options.changes = args.all("change");
  options.message = args.get_or("message", "");
  if (source.starts_with("http://") || source.starts_with("https://"))
    fail(ErrorKind::invalid_input, "import {}: importing from a URL is not supported; download it first", source);

  util::UniqueFd file;
  util::Fd input(0);
  if (source != "-") {
    try {
      file = util::open_read(source);
    } catch (...) {
      util::rethrow_with("import {}", source);
    }
    input = file.borrow();
  }
  auto store = store::Store::open(ctx.root);
  auto written = archive::import_rootfs(store, input, source == "-" ? "stdin" : source, options);
  std::cout << written.record.id.hex() << "\n";
  return 0;
}

const Registration kImport{{"import", "image import"}, [] {
  return Command{
      .name = "import",
      .aliases = {"image import"},
      .usage_args = "[OPTIONS] FILE|- [REFERENCE]",
      .summary = "Create an image from a root filesystem tarball",
      .description = "FILE is a tar archive (plain, gzip or zstd) of a root file system; - reads it "
                     "from standard input. The image gets one layer and prints its id. A REFERENCE "
                     "without a registry is stored under localhost/.",
      .options = {
          {.long_name = "change", .short_name = 'c', .arg = "INSTRUCTION",
           .help = "Apply a Dockerfile instruction (CMD, ENV, LABEL, ...) to the config", .repeatable = true},
          {.long_name = "message", .short_name = 'm', .arg = "MESSAGE",
           .help = "Set the history comment of the imported layer"},
          {.long_name = "quiet", .short_name = 'q', .help = "Print only the image id (no progress)"},
      },
      .min_args = 1,
      .max_args = 2,
      .arg_complete = Complete::file,
      .run = run_import,
  };
}};

}  // namespace
}  // namespace kiln::cli
