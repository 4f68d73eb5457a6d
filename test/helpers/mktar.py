#!/usr/bin/env python3
"""Writes hostile layer tarballs for kiln's system tests (stdlib only).

    python3 mktar.py KIND OUT.tar

Each kind is a plain (uncompressed) tar that `kiln import` / `kiln load` must
reject, or extract with everything contained in the layer directory. After
trying one, a test checks that none of the "kiln-escape-*" names appeared
outside the store (for instance in /tmp or in $HOME) and that the host file the
tar aims at is unchanged.

Kinds:
  dotdot           "../kiln-escape-dotdot" and "a/../../kiln-escape-dotdot2":
                   names that climb above the root. kiln rejects the layer with
                   `layer entry "...": path escapes the layer`.
  absolute         "/tmp/kiln-escape-absolute": an absolute name. kiln strips
                   the leading "/" (as Docker does): the file lands at
                   tmp/kiln-escape-absolute inside the image, never in the host's /tmp.
  symlink-escape   "escape" -> "/tmp" then "escape/kiln-escape-symlink", and
                   "up" -> "../../../../../../.." then "up/tmp/kiln-escape-symlink2":
                   writing through a symlink planted by an earlier entry. kiln
                   resolves symlinks as inside a chroot of the layer, so the writes
                   either land inside the layer or the layer is rejected.
  hardlink-escape  "passwd-link" hardlinked to "../../../../../../etc/passwd", and
                   "etcdir" -> "/etc" with "shadow-link" hardlinked to
                   "etcdir/shadow": hardlinks to host files. Rejected; the host's
                   link count of /etc/passwd must not change.
  device           a char device "dev-null" (1:3), a block device "dev-sda"
                   (8:0) and a fifo "fifo": without privilege kiln skips the
                   nodes; with it they are created inside the layer only.
"""

import io
import sys
import tarfile


def reg(name, data=b"escaped\n"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 1600000000
    return info, io.BytesIO(data)


def special(name, kind, target="", major=0, minor=0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    info.devmajor = major
    info.devminor = minor
    info.mode = 0o777 if kind == tarfile.SYMTYPE else 0o644
    info.mtime = 1600000000
    return info, None


def dotdot():
    return [reg("../kiln-escape-dotdot"), reg("a/../../kiln-escape-dotdot2")]


def absolute():
    return [reg("/tmp/kiln-escape-absolute")]


def symlink_escape():
    return [
        special("escape", tarfile.SYMTYPE, "/tmp"),
        reg("escape/kiln-escape-symlink"),
        special("up", tarfile.SYMTYPE, "../../../../../../.."),
        reg("up/tmp/kiln-escape-symlink2"),
    ]


def hardlink_escape():
    return [
        special("passwd-link", tarfile.LNKTYPE, "../../../../../../etc/passwd"),
        special("etcdir", tarfile.SYMTYPE, "/etc"),
        special("shadow-link", tarfile.LNKTYPE, "etcdir/shadow"),
    ]


def device():
    return [
        special("dev-null", tarfile.CHRTYPE, major=1, minor=3),
        special("dev-sda", tarfile.BLKTYPE, major=8, minor=0),
        special("fifo", tarfile.FIFOTYPE),
    ]


KINDS = {
    "dotdot": dotdot,
    "absolute": absolute,
    "symlink-escape": symlink_escape,
    "hardlink-escape": hardlink_escape,
    "device": device,
}


def main(argv):
    if len(argv) != 3 or argv[1] not in KINDS:
        sys.stderr.write("usage: mktar.py %s OUT.tar\n" % "|".join(KINDS))
        return 2
    with tarfile.open(argv[2], "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in KINDS[argv[1]]():
            tar.addfile(info, data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
