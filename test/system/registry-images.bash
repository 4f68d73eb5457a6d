# -*- bash -*-
# Test images put straight into a test registry (plain http, no auth), without
# kiln, podman or skopeo: the registry tests need images whose manifest bytes
# and digests they know. Load after registry.bash.
#
# seed_image REPO:TAG [--arch ARCH] [--docker] [--zstd] [--lie-diff-id] TAR...
#   uploads one layer per TAR (gzip, or zstd with --zstd), a config and a manifest
#   (OCI, or Docker v2s2 with --docker) to $REGISTRY; prints the manifest digest.
#   --lie-diff-id: the config gives the last layer a diff id that is not its own.
#   Also sets SEED_CONFIG (the config digest, = the image id) in a file next to it:
#   read it with seed_config REPO:TAG.
# seed_index REPO:TAG DIGEST=OS/ARCH[/VARIANT]...: an OCI index of those manifests.
# small_tar FILE NAME CONTENT: a one-file tarball (NAME holding CONTENT).

seed_image() {
    "$REGISTRY_PYTHON" - "$REGISTRY" "$REGISTRY_DIR" "$@" <<'PY'
import gzip, hashlib, json, platform, subprocess, sys, urllib.request
registry, state, ref, *rest = sys.argv[1:]
repo, tag = ref.rsplit(":", 1)
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
docker = zstd = lie = False
tars = []
while rest:
    a = rest.pop(0)
    if a == "--arch": arch = rest.pop(0)
    elif a == "--docker": docker = True
    elif a == "--zstd": zstd = True
    elif a == "--lie-diff-id": lie = True
    else: tars.append(a)

def put_blob(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/blobs/uploads/", method="POST")
    loc = urllib.request.urlopen(req).headers["Location"]
    if loc.startswith("/"): loc = f"http://{registry}{loc}"
    sep = "&" if "?" in loc else "?"
    req = urllib.request.Request(f"{loc}{sep}digest={digest}", data=data, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req)
    return digest, len(data)

layers, diff_ids = [], []
for t in tars:
    raw = open(t, "rb").read()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    if zstd:
        blob = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
        mt = "application/vnd.oci.image.layer.v1.tar+zstd"
    else:
        blob = gzip.compress(raw, mtime=0)
        mt = ("application/vnd.docker.image.rootfs.diff.tar.gzip" if docker
              else "application/vnd.oci.image.layer.v1.tar+gzip")
    d, n = put_blob(blob)
    layers.append({"mediaType": mt, "digest": d, "size": n} if not docker else {"mediaType": mt, "size": n, "digest": d})
if lie: diff_ids[-1] = "sha256:" + hashlib.sha256(b"not the last layer").hexdigest()
config = json.dumps({"created": "2024-01-01T00:00:00Z", "architecture": arch, "os": "linux",
                     "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin:/usr/bin"]},
                     "rootfs": {"type": "layers", "diff_ids": diff_ids},
                     "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"seed layer {i}"}
                                 for i in range(len(tars))]}, separators=(",", ":")).encode()
cd, cn = put_blob(config)
if docker:
    mt = "application/vnd.docker.distribution.manifest.v2+json"
    manifest = {"schemaVersion": 2, "mediaType": mt,
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": cn, "digest": cd},
                "layers": layers}
else:
    mt = "application/vnd.oci.image.manifest.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": mt,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                "layers": layers}
body = json.dumps(manifest, indent=3).encode()  # not compact: kiln must keep the bytes
req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{tag}", data=body, method="PUT",
                             headers={"Content-Type": mt})
urllib.request.urlopen(req)
open(f"{state}/seed-{repo.replace('/', '_')}-{tag}.config", "w").write(cd)
print("sha256:" + hashlib.sha256(body).hexdigest())
PY
}

seed_config() {
    local repo=${1%:*} tag=${1##*:}
    cat "$REGISTRY_DIR/seed-${repo//\//_}-$tag.config"
}

seed_index() {
    "$REGISTRY_PYTHON" - "$REGISTRY" "$@" <<'PY'
import hashlib, json, sys, urllib.request
registry, ref, *entries = sys.argv[1:]
repo, tag = ref.rsplit(":", 1)
manifests = []
for e in entries:
    digest, plat = e.split("=")
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{digest}", method="HEAD",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    r = urllib.request.urlopen(req)
    parts = plat.split("/")
    p = {"architecture": parts[1], "os": parts[0]}
    if len(parts) > 2: p["variant"] = parts[2]
    manifests.append({"mediaType": r.headers["Content-Type"], "digest": digest,
                      "size": int(r.headers["Content-Length"]), "platform": p})
mt = "application/vnd.oci.image.index.v1+json"
body = json.dumps({"schemaVersion": 2, "mediaType": mt, "manifests": manifests}).encode()
req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{tag}", data=body, method="PUT",
                             headers={"Content-Type": mt})
urllib.request.urlopen(req)
print("sha256:" + hashlib.sha256(body).hexdigest())
PY
}

small_tar() {
    local file=$1 name=$2 content=$3 dir
    dir=$(mktemp -d)
    mkdir -p "$dir/$(dirname "$name")"
    printf '%s\n' "$content" > "$dir/$name"
    tar --sort=name --mtime=2024-01-01 --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$file" .
    rm -rf "$dir"
}

# start_seed_registry [--busybox]: starts the plain test registry and makes $SEED_DIR
# for the file's seed layers (with busybox.tar, the test image's root file system, when
# asked). For setup_file.
start_seed_registry() {
  start_registry
  export SEED_DIR=$BATS_FILE_TMPDIR/seed
  mkdir -p "$SEED_DIR"
  if [[ ${1:-} == --busybox ]]; then cp "$(busybox_tarball)" "$SEED_DIR/busybox.tar"; fi
}
