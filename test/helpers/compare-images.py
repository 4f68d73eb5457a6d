#!/usr/bin/env python3
"""Compares two image descriptions written by image-tree.py; exits 1 on an unexplained difference.

Usage: compare-images.py [--allow FILE]... [--allow-shared FILE]... [--names A,B] A.json B.json

Each difference has a key:
  config.FIELD             Env Cmd Entrypoint WorkingDir User StopSignal Healthcheck
                           OnBuild Shell (the whole value)
  config.FIELD.KEY         one key of ExposedPorts, Volumes or Labels
  layers  history  history_empty  created
  history_created.N        the created time of history entry N (0 is the first), with --mtimes
  tree:PATH                PATH exists in one image only
  tree:PATH:ATTR           ATTR (type mode uid gid size sha256 link mtime) differs
An --allow FILE lists deliberate differences, one a line: a key or a shell-style glob
(fnmatch) of keys, then whitespace, then the reason (required). '#' starts a comment
line. A listed difference is printed as "allowed" with its reason; any other makes the
exit status 1. A line of an --allow file (not of an --allow-shared one) that matched
nothing is noted (not an error).
"""
import fnmatch
import json
import sys

TREE_ATTRS = ["type", "mode", "uid", "gid", "size", "sha256", "link"]
KEYED = ("ExposedPorts", "Volumes", "Labels")


def load_allow(paths):
    rules = []
    for path, shared in paths:
        with open(path) as f:
            for n, raw in enumerate(f, 1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split(None, 1)
                if len(parts) < 2 or not parts[1].strip():
                    sys.exit(f"compare-images: {path}:{n}: a deliberate difference needs a reason: {line}")
                rules.append({"glob": parts[0], "reason": parts[1].strip(), "where": f"{path}:{n}", "used": 0,
                              "shared": shared})
    return rules


def tree_map(lines):
    out = {}
    for line in lines:
        fields = line.split(" ")
        # path type mode uid gid size sha256 link [mtime=N]; a path never holds spaces here
        attrs = dict(zip(TREE_ATTRS, fields[1:8]))
        if len(fields) > 8 and fields[8].startswith("mtime="):
            attrs["mtime"] = fields[8][len("mtime="):]
        out[fields[0]] = attrs
    return out


def show(value):
    return json.dumps(value, sort_keys=True)


def differences(a, b):
    """Yields (key, value in A, value in B)."""
    ca, cb = a["config"], b["config"]
    for field in sorted(set(ca) | set(cb)):
        va, vb = ca.get(field), cb.get(field)
        if field in KEYED:
            da, db = va or {}, vb or {}
            for k in sorted(set(da) | set(db)):
                if k not in da or k not in db or da[k] != db[k]:
                    yield f"config.{field}.{k}", da.get(k, "<absent>"), db.get(k, "<absent>")
        elif va != vb:
            yield f"config.{field}", va, vb
    for key in ("layers", "history", "history_empty", "created"):
        if a.get(key) != b.get(key):
            yield key, a.get(key), b.get(key)
    ha, hb = a.get("history_created"), b.get("history_created")
    if ha is not None or hb is not None:
        ha, hb = ha or [], hb or []
        for n in range(max(len(ha), len(hb))):
            va = ha[n] if n < len(ha) else "<absent>"
            vb = hb[n] if n < len(hb) else "<absent>"
            if va != vb:
                yield f"history_created.{n}", va, vb
    ta, tb = tree_map(a["tree"]), tree_map(b["tree"])
    for path in sorted(set(ta) | set(tb)):
        if path not in ta or path not in tb:
            present = ta.get(path) or tb.get(path)
            desc = " ".join(present.get(x, "") for x in TREE_ATTRS)
            yield f"tree:{path}", desc if path in ta else "<absent>", desc if path in tb else "<absent>"
            continue
        for attr in TREE_ATTRS + ["mtime"]:
            if ta[path].get(attr) != tb[path].get(attr):
                yield f"tree:{path}:{attr}", ta[path].get(attr), tb[path].get(attr)


def main(argv):
    allow_files, names, files = [], ["A", "B"], []
    it = iter(argv)
    for arg in it:
        if arg == "--allow":
            allow_files.append((next(it), False))
        elif arg == "--allow-shared":
            allow_files.append((next(it), True))
        elif arg == "--names":
            names = next(it).split(",", 1)
        elif arg in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            files.append(arg)
    if len(files) != 2:
        sys.exit("usage: compare-images.py [--allow FILE]... [--names A,B] A.json B.json")
    a, b = (json.load(open(f)) for f in files)
    rules = load_allow(allow_files)
    width = max(len(n) for n in names)
    unexplained = allowed = 0
    for key, va, vb in differences(a, b):
        rule = next((r for r in rules if fnmatch.fnmatchcase(key, r["glob"])), None)
        if rule:
            rule["used"] += 1
            allowed += 1
            print(f"allowed   {key}: {rule['reason']} ({rule['where']})")
            print(f"    {names[0]:<{width}} {show(va)}")
            print(f"    {names[1]:<{width}} {show(vb)}")
            continue
        unexplained += 1
        print(f"DIFFERENT {key}")
        print(f"    {names[0]:<{width}} {show(va)}")
        print(f"    {names[1]:<{width}} {show(vb)}")
    for r in rules:
        if not r["used"] and not r["shared"]:
            print(f"note: deliberate difference {r['glob']} ({r['where']}) did not occur")
    print(f"{unexplained} unexplained difference(s), {allowed} deliberate; "
          f"{a['layers']}/{b['layers']} layers, {a['history']}/{b['history']} history entries, "
          f"{len(a['tree'])}/{len(b['tree'])} paths ({names[0]}/{names[1]})")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
