#!/usr/bin/env python3
"""Prints a normalised JSON description of one container image, for differential tests.

The image comes as an OCI layout (a directory with index.json, or an oci-archive tar)
or as a docker-archive (a directory with manifest.json, or its tar). The layers are
applied in order IN MEMORY from their tar streams (whiteouts and opaque directories
honoured), so no privileges are needed and owners come from the tar headers. Output:

  config        Env Cmd Entrypoint WorkingDir User ExposedPorts Volumes Labels
                StopSignal Healthcheck OnBuild Shell (absent fields are null; so are
                empty ones: "" [] {} mean what an absent field means, and writers differ
                in which they write, e.g. buildah's docker format "Entrypoint": [])
  layers        number of layers in the manifest (and diff_ids, which must agree)
  history       number of history entries; history_empty their empty_layer flags
  tree          sorted lines "path type mode uid gid size sha256 linktarget" of the
                final filesystem; mtimes are left out unless --mtimes is given
  info          things printed for a reader and not compared (media types,
                created_by of each history entry, created)

Usage: image-tree.py [--mtimes] [--image NAME] PATH
  --image NAME  pick the image named NAME when the layout or archive holds several
"""
import gzip
import hashlib
import io
import json
import lzma
import os
import stat
import sys
import tarfile

CONFIG_FIELDS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels",
                 "StopSignal", "Healthcheck", "OnBuild", "Shell"]
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


class Source:
    """Reads named members of a directory or a tar file (an archive's members in memory)."""

    def __init__(self, path):
        self.path = path
        self.members = None
        if not os.path.isdir(path):
            with tarfile.open(path, "r:*") as tar:
                self.members = {}
                for member in tar:
                    if member.isfile():
                        self.members[os.path.normpath(member.name)] = tar.extractfile(member).read()

    def has(self, name):
        if self.members is None:
            return os.path.isfile(os.path.join(self.path, name))
        return os.path.normpath(name) in self.members

    def read(self, name):
        if self.members is None:
            with open(os.path.join(self.path, name), "rb") as f:
                return f.read()
        try:
            return self.members[os.path.normpath(name)]
        except KeyError:
            sys.exit(f"image-tree: {self.path} has no member {name}")

    def json(self, name):
        return json.loads(self.read(name))


def blob_path(digest):
    algo, _, hexpart = digest.partition(":")
    return f"blobs/{algo}/{hexpart}"


def pick(candidates, wanted, what):
    """candidates: list of (names, value). Returns the value named wanted, or the only one."""
    if wanted:
        for names, value in candidates:
            if any(n == wanted or n.endswith("/" + wanted) or n.split(":")[0] == wanted for n in names):
                return value
        sys.exit(f"image-tree: no image named {wanted} in {what}")
    if len(candidates) != 1:
        sys.exit(f"image-tree: {what} holds {len(candidates)} images: name one with --image")
    return candidates[0][1]


def load_oci(src, wanted):
    index = src.json("index.json")
    candidates = []
    for desc in index.get("manifests", []):
        names = [v for k, v in desc.get("annotations", {}).items()
                 if k in ("org.opencontainers.image.ref.name", "io.containerd.image.name")]
        candidates.append((names, desc))
    desc = pick(candidates, wanted, "the OCI layout")
    manifest = src.json(blob_path(desc["digest"]))
    if "manifests" in manifest:  # an index inside the index: take its only manifest
        inner = manifest["manifests"]
        if len(inner) != 1:
            sys.exit("image-tree: nested image index with several manifests is not supported")
        manifest = src.json(blob_path(inner[0]["digest"]))
    config = src.json(blob_path(manifest["config"]["digest"]))
    layers = [src.read(blob_path(layer["digest"])) for layer in manifest["layers"]]
    info = {"manifest_media_type": manifest.get("mediaType", desc.get("mediaType")),
            "config_media_type": manifest["config"].get("mediaType"),
            "layer_media_types": [layer.get("mediaType") for layer in manifest["layers"]]}
    return config, layers, info


def load_docker(src, wanted):
    entries = src.json("manifest.json")
    entry = pick([(e.get("RepoTags") or [], e) for e in entries], wanted, "the docker-archive")
    config = src.json(entry["Config"])
    layers = [src.read(name) for name in entry["Layers"]]
    return config, layers, {"manifest_media_type": "docker-archive"}


def decompress(blob):
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard  # not stdlib; used when present
        except ImportError:
            sys.exit("image-tree: a zstd-compressed layer needs the python zstandard module")
        return zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    if blob[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(blob)
    return blob


def clean(name):
    """A tar member name as an absolute, normalised path ("/" for the root)."""
    path = os.path.normpath("/" + name)
    return path[1:] if path.startswith("//") else path


def remove_tree(tree, path, keep_self=False):
    prefix = path.rstrip("/") + "/"
    for p in [p for p in tree if p.startswith(prefix)]:
        del tree[p]
    if not keep_self:
        tree.pop(path, None)


def kind(member):
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    if member.ischr():
        return "char"
    if member.isblk():
        return "block"
    if member.isfifo():
        return "fifo"
    return "file"


def apply_layer(tree, data, mtimes):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        members = list(tar)
        # Whiteouts and opaque markers hide what the layers below hold: apply them first.
        for m in members:
            path = clean(m.name)
            base = os.path.basename(path)
            parent = os.path.dirname(path)
            if base == OPAQUE:
                remove_tree(tree, parent, keep_self=True)
            elif base.startswith(WHITEOUT):
                remove_tree(tree, os.path.join(parent, base[len(WHITEOUT):]))
        for m in members:
            path = clean(m.name)
            if os.path.basename(path).startswith(WHITEOUT):
                continue
            t = kind(m)
            entry = {"type": t, "mode": stat.S_IMODE(m.mode), "uid": m.uid, "gid": m.gid, "size": 0,
                     "sha256": "-", "link": "-", "mtime": int(m.mtime)}
            if t == "file":
                content = tar.extractfile(m).read()
                entry["size"] = len(content)
                entry["sha256"] = hashlib.sha256(content).hexdigest()
            elif t == "symlink":
                entry["link"] = m.linkname
            elif t == "hardlink":
                target = tree.get(clean(m.linkname))
                if target is None or target["type"] != "file":
                    sys.exit(f"image-tree: hard link {path} to missing file {m.linkname}")
                # A hard link is the file it names: only the tool's packing differs.
                entry = dict(target)
            elif t in ("char", "block"):
                entry["link"] = f"{m.devmajor}:{m.devminor}"
            old = tree.get(path)
            if old is not None and old["type"] == "dir" and t != "dir":
                remove_tree(tree, path)
            tree[path] = entry


def describe(path, wanted, mtimes):
    src = Source(path)
    if src.has("index.json"):
        config, layers, info = load_oci(src, wanted)
    elif src.has("manifest.json"):
        config, layers, info = load_docker(src, wanted)
    else:
        sys.exit(f"image-tree: {path} is neither an OCI layout nor a docker-archive")
    tree = {}
    for blob in layers:
        apply_layer(tree, decompress(blob), mtimes)
    lines = []
    for p in sorted(tree):
        e = tree[p]
        line = f"{p} {e['type']} {e['mode']:04o} {e['uid']} {e['gid']} {e['size']} {e['sha256']} {e['link']}"
        if mtimes:
            line += f" mtime={e['mtime']}"
        lines.append(line)
    cfg = config.get("config") or {}
    history = config.get("history") or []
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(layers):
        sys.exit(f"image-tree: {len(layers)} layers but {len(diff_ids)} diff_ids in the config")
    info["created_by"] = [h.get("created_by", "") for h in history]
    info["created"] = config.get("created")
    out = {
        "config": {f: (cfg.get(f) if cfg.get(f) not in ("", [], {}) else None) for f in CONFIG_FIELDS},
        "layers": len(layers),
        "history": len(history),
        "history_empty": [bool(h.get("empty_layer", False)) for h in history],
        "tree": lines,
        "info": info,
    }
    if mtimes:
        out["created"] = config.get("created")
        out["history_created"] = [h.get("created") for h in history]
    return out


def main(argv):
    mtimes = False
    wanted = None
    args = []
    it = iter(argv)
    for a in it:
        if a == "--mtimes":
            mtimes = True
        elif a == "--image":
            wanted = next(it, None)
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            args.append(a)
    if len(args) != 1:
        sys.exit("usage: image-tree.py [--mtimes] [--image NAME] PATH")
    json.dump(describe(args[0], wanted, mtimes), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
