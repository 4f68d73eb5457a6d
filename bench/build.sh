#!/usr/bin/env bash
# kiln build against buildah bud: the same multi-step Dockerfile (a busybox base,
# several RUNs, a 20 MB file written by RUN, a COPY of a 50 MB context) built
# cold (--no-cache: every step runs) and warm (every step cached), medians of
# BENCH_RUNS runs each, with ratio lines.
#
#   KILN=build/kiln bench/build.sh      (as an unprivileged user with a subuid range)
set -euo pipefail
BENCH_RUNS=${BENCH_RUNS:-5}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ctx=$BENCH_WORK/ctx
mkdir -p "$ctx/data"
for i in $(seq 50); do head -c 1048576 /dev/urandom >"$ctx/data/blob$i"; done
cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
ENV APP=/srv/app
RUN echo one > /one
RUN dd if=/dev/urandom of=/big bs=1M count=20 2>/dev/null
RUN mkdir -p /srv/app && echo three > /srv/app/three
COPY data/ /srv/app/data/
RUN ls /srv/app/data | wc -l > /srv/app/count
WORKDIR /srv/app
CMD ["sh"]
DF

busybox_rootfs_tar "$BENCH_WORK/busybox.tar"
"$KILN" import -q "$BENCH_WORK/busybox.tar" localhost/busybox >/dev/null
podman import -q "$BENCH_WORK/busybox.tar" localhost/busybox >/dev/null 2>&1

kiln_cold=$(median_ms kiln-cold "$KILN" build -q --no-cache -t localhost/bench "$ctx")
buildah_cold=$(median_ms buildah-cold "${BUILDAH[@]}" bud -q --layers --no-cache -t localhost/bench "$ctx")
report "build, cold (--no-cache)" "$kiln_cold" buildah "$buildah_cold"

"$KILN" build -q -t localhost/bench "$ctx" >/dev/null
buildah bud -q --layers -t localhost/bench "$ctx" >/dev/null 2>&1
BENCH_RUNS=$((BENCH_RUNS * 4))
kiln_warm=$(median_ms kiln-warm "$KILN" build -q -t localhost/bench "$ctx")
buildah_warm=$(median_ms buildah-warm "${BUILDAH[@]}" bud -q --layers -t localhost/bench "$ctx")
report "build, warm (fully cached)" "$kiln_warm" buildah "$buildah_warm"
