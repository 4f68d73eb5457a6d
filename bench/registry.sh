#!/usr/bin/env bash
# Push and pull of a ~100 MB, four-layer image to and from a local registry
# (Debian's docker-registry on 127.0.0.1, plain http): kiln against skopeo
# (registry to/from an OCI layout, no store) and podman (its own store).
# Each pull starts from an empty store; each push goes to a fresh repository,
# so every blob really travels.
#   KILN=build/kiln BENCH_RUNS=5 bench/registry.sh
BENCH_RUNS=${BENCH_RUNS:-5}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v docker-registry >/dev/null || { echo "docker-registry not installed" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$port
cat >"$BENCH_WORK/registry.yml" <<CONF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $BENCH_WORK/registry}, delete: {enabled: true}}
http: {addr: $REG}
CONF
docker-registry serve "$BENCH_WORK/registry.yml" >"$BENCH_WORK/registry.log" 2>&1 &
REG_PID=$!
trap 'kill $REG_PID 2>/dev/null; bench_cleanup' EXIT
for _ in $(seq 100); do curl -sf "http://$REG/v2/" >/dev/null && break; sleep 0.1; done

# The image: busybox plus three layers of 32 MB of incompressible data each,
# written as an OCI layout that skopeo copies into the registry.
layout=$BENCH_WORK/layout
mkdir -p "$layout"
busybox_rootfs_tar "$BENCH_WORK/l0.tar"
for i in 1 2 3; do
  mkdir -p "$BENCH_WORK/l$i/data"
  head -c 32M /dev/urandom >"$BENCH_WORK/l$i/data/blob$i"
  tar -C "$BENCH_WORK/l$i" -cf "$BENCH_WORK/l$i.tar" .
done
python3 - "$layout" "$BENCH_WORK"/l0.tar "$BENCH_WORK"/l1.tar "$BENCH_WORK"/l2.tar "$BENCH_WORK"/l3.tar <<'PY'
import gzip, hashlib, json, os, platform, sys
out, tars = sys.argv[1], sys.argv[2:]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{h}", "wb").write(data)
    return {"digest": "sha256:" + h, "size": len(data)}
layers, diffs = [], []
for t in tars:
    raw = open(t, "rb").read()
    diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **put(gzip.compress(raw, 1, mtime=0))})
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
config = put(json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diffs}}).encode())
manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                           "layers": layers}).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
           "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, open(f"{out}/index.json", "w"))
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
skopeo copy -q --dest-tls-verify=false "oci:$layout:latest" "docker://$REG/bench/big:1"
echo "image: $(du -sh "$layout/blobs" | cut -f1) compressed in 4 layers"

# Pulls: from an empty store each time.
kiln_root=$KILN_ROOT
pull_kiln_prep="$KILN unshare rm -rf $kiln_root"
kiln_pull=$(median_ms_prepared kiln-pull "$pull_kiln_prep" "$KILN" pull -q --tls-verify=false "$REG/bench/big:1")
skopeo_pull=$(median_ms_prepared skopeo-pull "rm -rf $BENCH_WORK/pulled" \
  skopeo copy -q --src-tls-verify=false "docker://$REG/bench/big:1" "oci:$BENCH_WORK/pulled:latest")
podman_pull=$(median_ms_prepared podman-pull "${PODMAN[*]} rmi -af >/dev/null 2>&1 || true" \
  "${PODMAN[@]}" pull -q --tls-verify=false "$REG/bench/big:1")

# Pushes: to a second registry whose storage is wiped before each run, so every blob
# travels (a fresh repository on the first one would only get cross-repo mounts).
port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG2=127.0.0.1:$port2
sed -e "s|$BENCH_WORK/registry}|$BENCH_WORK/registry2}|" -e "s|addr: $REG|addr: $REG2|" \
  "$BENCH_WORK/registry.yml" >"$BENCH_WORK/registry2.yml"
docker-registry serve "$BENCH_WORK/registry2.yml" >"$BENCH_WORK/registry2.log" 2>&1 &
REG2_PID=$!
trap 'kill $REG_PID $REG2_PID 2>/dev/null; bench_cleanup' EXIT
for _ in $(seq 100); do curl -sf "http://$REG2/v2/" >/dev/null && break; sleep 0.1; done
"$KILN" pull -q --tls-verify=false "$REG/bench/big:1" >/dev/null
podman pull -q --tls-verify=false "$REG/bench/big:1" >/dev/null
wipe="rm -rf $BENCH_WORK/registry2/docker"
kiln_push=$(median_ms_prepared kiln-push "$wipe" "$KILN" push -q --tls-verify=false "$REG/bench/big:1" "$REG2/bench/big:1")
skopeo_push=$(median_ms_prepared skopeo-push "$wipe" \
  skopeo copy -q --dest-tls-verify=false "oci:$layout:latest" "docker://$REG2/bench/big:1")
podman_push=$(median_ms_prepared podman-push "$wipe" "${PODMAN[@]}" push -q --tls-verify=false "$REG/bench/big:1" "$REG2/bench/big:1")

report "pull ~100 MB, 4 layers" "$kiln_pull" skopeo "$skopeo_pull"
report "pull ~100 MB, 4 layers" "$kiln_pull" podman "$podman_pull"
report "push ~100 MB, 4 layers" "$kiln_push" skopeo "$skopeo_push"
report "push ~100 MB, 4 layers" "$kiln_push" podman "$podman_push"
