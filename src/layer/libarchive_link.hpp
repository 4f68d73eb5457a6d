// Linking libarchive statically without its whole format table. libarchive's tar
// writers report an entry of a type their format cannot hold through one internal
// helper, __archive_write_entry_filetype_unsupported, which lives in the same object
// file as archive_write_set_format() and its table of every writer (xar, zip, 7zip,
// ...). Pulling that object in brings libxml2, ICU and nettle into kiln, which cost
// every command its start-up time. The files that use a tar writer include this header,
// whose weak definition satisfies the reference first, so the table is never linked.
// Against the shared library the definition is harmless: the same message, the
// caller still returns ARCHIVE_FAILED.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>

extern "C" __attribute__((weak)) void __archive_write_entry_filetype_unsupported(struct archive* a,
                                                                                 struct archive_entry* entry,
                                                                                 const char* format) {
  const char* path = archive_entry_pathname(entry);
  archive_set_error(a, EILSEQ, "%s: %s format cannot archive file type 0%o", path ? path : "?",
                    format ? format : "this", static_cast<unsigned>(archive_entry_filetype(entry)));
}
