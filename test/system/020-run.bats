#!/usr/bin/env bats
# kiln run and the container lifecycle around it: ENTRYPOINT/CMD, environment,
# working directory, users, volumes, tmpfs, read-only roots, host names, exit
# codes, stdin and terminals, detached containers, start, ps, rm, and what a
# kill -9 of kiln leaves behind.

# kiln-test-runs: single-id drivers

load helpers

# One store per file: the image is imported once; every test cleans up its containers.
setup_file() {
  export KILN_ROOT=$BATS_FILE_TMPDIR/root KILN_RUNROOT=$BATS_FILE_TMPDIR/run
  mkdir -p "$KILN_RUNROOT"
  local tarball
  tarball=$(busybox_tarball)
  "$KILN" import "$tarball" localhost/busybox >/dev/null
  "$KILN" import --change 'ENTRYPOINT ["echo", "entry"]' --change 'CMD ["default"]' \
    "$tarball" localhost/entry >/dev/null
  "$KILN" import --change 'VOLUME /data' --change 'WORKDIR /home/app' --change 'USER app' \
    --change 'ENV GREETING=hello' "$tarball" localhost/config >/dev/null
}
setup() {
  export KILN_ROOT=$BATS_FILE_TMPDIR/root KILN_RUNROOT=$BATS_FILE_TMPDIR/run
}
teardown() {
  "$KILN" rm -f -v $("$KILN" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
}
teardown_file() {
  export KILN_ROOT=$BATS_FILE_TMPDIR/root KILN_RUNROOT=$BATS_FILE_TMPDIR/run
  kiln_teardown
}

IMG=localhost/busybox

@test "run: CMD and ENTRYPOINT follow Docker's rules" {
  run_kiln run --rm localhost/entry
  assert_equal "$KILN_STDOUT" "entry default"
  run_kiln run --rm localhost/entry one two
  assert_equal "$KILN_STDOUT" "entry one two"
  run_kiln run --rm --entrypoint "" localhost/entry echo cleared
  assert_equal "$KILN_STDOUT" "cleared"
  run_kiln run --rm --entrypoint /bin/echo localhost/entry
  assert_equal "$KILN_STDOUT" ""
  run_kiln run --rm $IMG sh -c 'echo $0 $1' a b
  assert_equal "$KILN_STDOUT" "a b"
}

@test "run: -e, --env-file, -w and the image's Env/WorkingDir/User" {
  printf 'FROM_FILE=1\n# comment\n\nOVERRIDE=file\n' >"$BATS_TEST_TMPDIR/env"
  export PASSED_THROUGH=yes
  run_kiln run --rm --env-file "$BATS_TEST_TMPDIR/env" -e OVERRIDE=flag -e PASSED_THROUGH -e UNSET_VAR_X \
    $IMG sh -c 'echo $FROM_FILE $OVERRIDE $PASSED_THROUGH ${UNSET_VAR_X-unset}; echo $PATH'
  assert_line 0 "1 flag yes unset"
  assert_line 1 "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  run_kiln run --rm -w /tmp/new/dir $IMG pwd
  assert_equal "$KILN_STDOUT" "/tmp/new/dir"
  is_single_id_user && skip "single-id mode: USER app (uid 1000) cannot be switched to"
  run_kiln run --rm localhost/config sh -c 'echo $GREETING $(pwd) $(id -u)'
  assert_equal "$KILN_STDOUT" "hello /home/app 1000"
}

@test "run: -u by name, uid, uid:gid, and supplementary groups" {
  is_single_id_user && skip "single-id mode: only uid 0 is mapped"
  run_kiln run --rm -u app $IMG probe uid
  assert_output_contains "uid=1000 gid=1000"
  run_kiln run --rm -u 1234 $IMG probe uid
  assert_output_contains "uid=1234 gid=0"
  run_kiln run --rm -u 1000:65534 $IMG id
  assert_output_contains "uid=1000(app) gid=65534(nogroup)"
  run_kiln 125 run --rm -u nosuchuser $IMG true
  assert_output_contains "unable to find user nosuchuser"
}

@test "run: --rm removes the record; --name shows in ps" {
  run_kiln run --rm --name gone $IMG true
  run_kiln ps -a --format '{{.Names}}'
  assert_output_not_contains "gone"
  # Its directory (rw layer, generated /etc files) leaves containers/ at once; the tree
  # itself is deleted by a child kiln leaves behind (it holds the entry locked), so tmp/
  # is empty a moment later. The store checks clean meanwhile.
  assert_equal "$("$KILN" unshare ls -A "$KILN_ROOT/containers")" "" "containers/ after run --rm"
  run_kiln system check
  local i left
  for i in $(seq 50); do
    left=$("$KILN" unshare ls -A "$KILN_ROOT/tmp")
    [[ -z $left ]] && break
    sleep 0.1
  done
  assert_equal "$left" "" "tmp/ after run --rm"
  # What reaches kiln's stdout is the container's alone.
  assert_equal "$("$KILN" run --rm $IMG echo hi)" "hi"
  run_kiln run --name kept $IMG sh -c 'exit 3' || true
  run_kiln ps -a --format '{{.Names}} {{.Status}}'
  assert_output_contains "kept Exited (3)"
  run_kiln 125 run --name kept $IMG true
  assert_output_contains 'the container name "kept" is already in use'
  run_kiln rm kept
  assert_equal "$KILN_STDOUT" "kept"
  run_kiln 1 rm kept
  assert_output_contains "no such container: kept"
}

@test "run: a --rm container's overlay upper is volatile (never synced); a kept one's is not" {
  [[ $(cat "$KILN_ROOT/driver" 2>/dev/null) == overlay ]] || skip "kernel overlay only"
  run_kiln run --rm $IMG sh -c 'grep " / / " /proc/self/mountinfo'
  assert_output_contains "volatile"
  run_kiln run --name kept-sync $IMG sh -c 'grep " / / " /proc/self/mountinfo'
  assert_output_contains "upperdir="
  assert_output_not_contains "volatile"
  run_kiln rm kept-sync
}

@test "run: bind mounts rw and :ro" {
  local dir=$BATS_TEST_TMPDIR/bind
  mkdir -p "$dir"
  echo host >"$dir/file"
  run_kiln run --rm -v "$dir:/mnt" $IMG sh -c 'cat /mnt/file; echo ctr >/mnt/new'
  assert_equal "$KILN_STDOUT" "host"
  assert_equal "$(cat "$dir/new")" "ctr"
  run_kiln 1 run --rm -v "$dir:/mnt:ro" $IMG sh -c 'echo x >/mnt/refused'
  assert_output_contains "Read-only file system"
  [[ ! -e $dir/refused ]] || die "a :ro bind was writable"
}

@test "run: a named volume persists across containers; anonymous ones go with --rm/rm -v" {
  run_kiln run --rm -v myvol:/data $IMG sh -c 'echo kept >/data/f'
  run_kiln run --rm -v myvol:/data $IMG cat /data/f
  assert_equal "$KILN_STDOUT" "kept"
  [[ -d $KILN_ROOT/volumes/myvol/_data ]] || die "named volume not in the store"
  # The image's VOLUME /data (absent from the image) belongs to its USER app, who can
  # write it. Single-id mode cannot switch to uid 1000: root writes it there.
  local as_root=()
  is_single_id_user && as_root=(-u 0)
  run_kiln run --name anon "${as_root[@]}" localhost/config sh -c 'touch /data/x; stat -c %u /data'
  is_single_id_user || assert_equal "$KILN_STDOUT" "1000"
  run_kiln container inspect --format '{{json .Mounts}}' anon
  assert_output_contains '"Destination":"/data"'
  local before
  before=$(ls "$KILN_ROOT/volumes" | wc -l)
  run_kiln rm -v anon
  assert_equal "$(ls "$KILN_ROOT/volumes" | wc -l)" "$((before - 1))" "volumes after rm -v"
}

@test "run: a new volume takes the owner, mode and contents of the image's directory" {
  # As the image has them (single-id mode shows uid 1000's files as root's).
  run_kiln run --rm $IMG stat -c '%u:%g %a' /home/app /root
  local expected=$KILN_STDOUT
  run_kiln run --rm -v /home/app -v homevol:/root $IMG stat -c '%u:%g %a' /home/app /root
  assert_equal "$KILN_STDOUT" "$expected"
  # Contents are copied up into an empty volume once; later changes stay the volume's.
  run_kiln run --rm -v etcvol:/etc $IMG sh -c 'grep ^app: /etc/passwd; echo changed >/etc/motd'
  assert_output_contains "app:x:1000:1000"
  run_kiln run --rm -v etcvol:/etc $IMG cat /etc/motd
  assert_equal "$KILN_STDOUT" "changed"
  # A bind mount is never touched.
  mkdir -m 0700 "$BATS_TEST_TMPDIR/bound"
  run_kiln run --rm -v "$BATS_TEST_TMPDIR/bound:/root" $IMG true
  assert_equal "$(stat -c %a "$BATS_TEST_TMPDIR/bound")" "700" "bind mount mode"
  assert_equal "$(ls -A "$BATS_TEST_TMPDIR/bound")" "" "bind mount contents"
}

@test "run: --tmpfs, --read-only and --hostname" {
  run_kiln run --rm --tmpfs /scratch $IMG sh -c 'grep " /scratch " /proc/mounts'
  assert_output_contains "tmpfs"
  run_kiln 1 run --rm --read-only $IMG touch /newfile
  assert_output_contains "Read-only file system"
  run_kiln run --rm --read-only --tmpfs /tmp $IMG touch /tmp/ok
  run_kiln run --rm --hostname box $IMG sh -c 'hostname; cat /etc/hostname'
  assert_equal "$KILN_STDOUT" $'box\nbox'
  run_kiln run --name hn $IMG hostname
  local id
  id=$("$KILN" container inspect --format '{{.Id}}' hn 2>/dev/null)
  assert_equal "$KILN_STDOUT" "${id:0:12}"
  run_kiln run --rm $IMG cat /etc/hosts
  assert_output_contains "localhost"
}

@test "run: /etc/hostname, hosts, resolv.conf: written into a --rm container, bind mounts for a kept or read-only one" {
  local host_resolv
  host_resolv=$(cat /etc/resolv.conf)
  # --rm: plain files in the container's own root file system, no mounts.
  run_kiln run --rm --hostname box $IMG sh -c 'cat /etc/hostname; grep -c " /etc/" /proc/mounts; cat /etc/resolv.conf'
  assert_equal "${lines[0]}" "box"
  assert_equal "${lines[1]}" "0" "mounts under /etc"
  assert_equal "$(printf '%s\n' "${lines[@]:2}")" "$host_resolv" "resolv.conf"
  run_kiln run --rm --network none $IMG cat /etc/resolv.conf
  assert_equal "$KILN_STDOUT" "" "resolv.conf with --network none"
  # --read-only and kept containers: bind mounts, so nothing lands in the container layer.
  run_kiln run --rm --read-only --hostname ro $IMG sh -c 'cat /etc/hostname; grep -c " /etc/" /proc/mounts'
  assert_equal "$KILN_STDOUT" $'ro\n3'
  run_kiln run --name kept --hostname kept $IMG sh -c 'cat /etc/hostname; grep -c " /etc/" /proc/mounts'
  assert_equal "$KILN_STDOUT" $'kept\n3'
  run_kiln diff kept
  assert_output_not_contains "/etc/host"
  # An image whose /etc/resolv.conf is a symlink: never written through; the bind
  # mount covers the file it names beneath the root, as before.
  local tar=$BATS_TEST_TMPDIR/linked.tar
  cp "$(busybox_tarball)" "$tar"
  mkdir -p "$BATS_TEST_TMPDIR/link/etc"
  echo original > "$BATS_TEST_TMPDIR/link/etc/kiln-target"
  ln -s /etc/kiln-target "$BATS_TEST_TMPDIR/link/etc/resolv.conf"
  tar --append -f "$tar" -C "$BATS_TEST_TMPDIR/link" etc/kiln-target etc/resolv.conf
  run_kiln import -q "$tar" localhost/linked
  run_kiln run --rm localhost/linked sh -c 'cat /etc/resolv.conf; grep -c " /etc/" /proc/mounts'
  assert_equal "$KILN_STDOUT" "$host_resolv"$'\n1' "resolv.conf over a symlink: bound, the others written"
  run_kiln rm kept
  run_kiln rmi localhost/linked
}

@test "run: a dangling /etc/resolv.conf or /etc/hosts link gets its target created beneath the root" {
  local host_resolv tar=$BATS_TEST_TMPDIR/dangling.tar dir=$BATS_TEST_TMPDIR/dangling
  host_resolv=$(cat /etc/resolv.conf)
  cp "$(busybox_tarball)" "$tar"
  mkdir -p "$dir/etc"
  # systemd's link, a relative one that climbs past the root, and an absolute one.
  ln -s ../run/systemd/resolve/stub-resolv.conf "$dir/etc/resolv.conf"
  ln -s ../../../../../kiln-escape-$$/hosts "$dir/etc/hosts"
  ln -s /var/lib/box/hostname "$dir/etc/hostname"
  tar --append -f "$tar" -C "$dir" etc/resolv.conf etc/hosts etc/hostname
  run_kiln import -q "$tar" localhost/dangling
  local check='cat /etc/resolv.conf; cat /run/systemd/resolve/stub-resolv.conf; grep -c localhost /kiln-escape-'$$'/hosts; cat /var/lib/box/hostname'
  run_kiln run --rm --hostname dang localhost/dangling sh -c "$check"
  assert_equal "$KILN_STDOUT" "$host_resolv"$'
'"$host_resolv"$'
2
dang'
  run_kiln run --name dang --hostname dang localhost/dangling sh -c "$check"
  assert_equal "$KILN_STDOUT" "$host_resolv"$'
'"$host_resolv"$'
2
dang'
  [[ ! -e /kiln-escape-$$ ]] || die "a link's target was created outside the root"
  run_kiln rm dang
  # A loop is one line and 125, and leaves no container behind.
  mkdir -p "$dir/loop/etc"
  ln -s /etc/hosts.b "$dir/loop/etc/hosts"
  ln -s /etc/hosts "$dir/loop/etc/hosts.b"
  cp "$(busybox_tarball)" "$tar"
  tar --append -f "$tar" -C "$dir/loop" etc/hosts etc/hosts.b
  run_kiln import -q "$tar" localhost/loop
  run_kiln 125 run --rm localhost/loop true
  assert_output_contains "/etc/hosts"
  assert_output_contains "symbolic links"
  run_kiln ps -aq
  assert_equal "$KILN_STDOUT" ""
  run_kiln rmi localhost/dangling localhost/loop
}

@test "run: exit codes 0, 3, 125, 126, 127" {
  run_kiln 0 run --rm $IMG true
  run_kiln 3 run --rm $IMG sh -c 'exit 3'
  run_kiln 125 run --rm --no-such-flag $IMG true
  run_kiln 125 run --rm localhost/nosuchimage true
  assert_equal "${KILN_STDERR##*$'\n'}" "kiln: run: no such image: localhost/nosuchimage"
  run_kiln 126 run --rm $IMG /etc/passwd
  run_kiln 127 run --rm $IMG nosuchcommand
  assert_output_contains "nosuchcommand"
}

@test "run: bad input is one line naming it, 125 (127 for an empty command), and no container" {
  local envfile=$BATS_TEST_TMPDIR/env.list
  run_kiln 125 run --rm -e =x $IMG true
  assert_output 'kiln: run: invalid environment variable "=x": no name'
  printf 'GOOD=1\nBAD NAME=2\n' >"$envfile"
  run_kiln 125 run --rm --env-file "$envfile" $IMG true
  assert_output "kiln: run: $envfile:2: variable \"BAD NAME\" contains white space"
  run_kiln 125 exec -e =x nosuchcontainer true
  assert_output_contains 'invalid environment variable "=x"'
  run_kiln 125 run --rm --tmpfs /t:size=bogus $IMG true
  assert_equal "${#lines[@]}" 1
  assert_output_contains 'mount tmpfs on /t with options "size=bogus'
  run_kiln 125 run --rm -u nosuchuser $IMG true
  assert_output "kiln: unable to find user nosuchuser: no matching entries in passwd file"
  run_kiln 125 run --rm --cap-add BOGUS $IMG true
  assert_output 'kiln: unknown capability: "CAP_BOGUS"'
  run_kiln 125 run --rm -v /tmp:relative $IMG true
  assert_output 'kiln: run: invalid volume "relative": the container path must be absolute'
  run_kiln 127 run --rm $IMG ''
  assert_output 'kiln: executable file not found in $PATH: ""'
  run_kiln ps -aq
  assert_equal "$KILN_STDOUT" ""
}

@test "run: -i passes stdin; without -i stdin is empty" {
  run bash -c "echo piped | '$KILN' run --rm -i $IMG cat 2>/dev/null"
  assert_equal "$output" "piped"
  run bash -c "echo piped | '$KILN' run --rm $IMG cat 2>/dev/null"
  assert_equal "$output" ""
}

@test "run: -t gives the container a terminal" {
  command -v script >/dev/null || skip "script(1) not installed"
  run script -qec "'$KILN' run --rm -t $IMG tty" /dev/null
  [[ $output == *"/dev/pts/"* ]] || die "tty printed: $output"
}

@test "run -d: ps shows it running, rm -f removes it" {
  run_kiln run -d --name bg $IMG sleep 1000
  local id=$KILN_STDOUT
  [[ $id =~ ^[0-9a-f]{64}$ ]] || die "run -d printed \"$id\""
  run_kiln ps --format '{{.ID}} {{.Names}} {{.State}}'
  assert_output_contains "${id:0:12} bg running"
  run_kiln ps
  assert_line 0 "$(printf '%-14s%-29s%-22s' 'CONTAINER ID' IMAGE COMMAND)CREATED     STATUS      PORTS       NAMES" || true
  assert_output_contains "Up "
  run_kiln 125 rm bg
  assert_output_contains "as it is running"
  run_kiln rm -f bg
  run_kiln ps -aq
  assert_equal "$KILN_STDOUT" ""
}

@test "run -d: output goes to the log in k8s-file format" {
  run_kiln run -d --name logger $IMG sh -c 'echo out; echo err >&2'
  local i
  for i in $(seq 50); do
    [[ $("$KILN" ps -a --format '{{.State}}' --filter name=logger 2>/dev/null) == exited ]] && break
    sleep 0.1
  done
  run_kiln ps -a --format '{{.State}}' --filter name=logger
  assert_equal "$KILN_STDOUT" "exited"
  local log
  log=$("$KILN" container inspect --format '{{.LogPath}}' logger 2>/dev/null)
  grep -Eq '^[0-9T:.+-]+Z? stdout F out$' "$log" || die "log: $(cat "$log")"
  grep -Eq '^[0-9T:.+-]+Z? stderr F err$' "$log" || die "log: $(cat "$log")"
}

@test "start: an exited container runs again on the same rw layer" {
  run_kiln create --name again $IMG sh -c 'echo run >>/count; wc -l </count'
  run_kiln ps -a --format '{{.Status}}' --filter name=again
  assert_equal "$KILN_STDOUT" "Created"
  run_kiln start -a again
  assert_equal "$KILN_STDOUT" "1"
  run_kiln start -a again
  assert_equal "$KILN_STDOUT" "2"
  run_kiln start again
  assert_equal "$KILN_STDOUT" "again"
}

@test "run: files keep their owners (root -> the user, 1000 -> subuid start + 999)" {
  skip_if_root
  local dir=$BATS_TEST_TMPDIR/owned
  mkdir -p "$dir"
  chmod 777 "$dir"
  run_kiln run --rm -v "$dir:/mnt" $IMG sh -c 'touch /mnt/root-file; su app -s /bin/sh -c "touch /mnt/app-file" || chown 1000:1000 /mnt/root-file.2 2>/dev/null; touch /mnt/app-file2; chown 1000:1000 /mnt/app-file2'
  assert_equal "$(stat -c %u "$dir/root-file")" "$(id -u)" "owner of a file root created"
  if is_single_id_user; then
    skip "single-id mode: uid 1000 has no host id"
  fi
  read -r start _ <<<"$(subuid_range)"
  assert_equal "$(stat -c %u "$dir/app-file2")" "$((start + 999))" "owner of a file chowned to 1000"
}

# kill9_foreground NAME [RUN FLAGS...]: runs `sleep 1000` as NAME in the foreground,
# kills kiln with SIGKILL, and checks that the container's process goes with it before
# any other kiln command runs (its parent-death signal; the guard under fuse-overlayfs).
kill9_foreground() {
  local name=$1 i cpid=
  shift
  "$KILN" run "$@" --name "$name" $IMG sleep 1000 >/dev/null 2>&1 &
  local pid=$!
  for i in $(seq 100); do
    cpid=$("$KILN" container inspect --format '{{.State.Pid}}' "$name" 2>/dev/null) || cpid=
    [[ $cpid =~ ^[1-9][0-9]*$ ]] && break
    cpid=
    sleep 0.1
  done
  [[ -n $cpid && -e /proc/$cpid ]] || die "container $name never ran"
  kill -9 "$pid"
  wait "$pid" || true
  for i in $(seq 50); do
    [[ -e /proc/$cpid ]] || break
    sleep 0.1
  done
  [[ ! -e /proc/$cpid ]] || die "the container's process $cpid outlived kiln: $(cat /proc/$cpid/status 2>/dev/null | head -3)"
  ! pgrep -u "$(id -u)" -f "fuse-overlayfs.*$KILN_ROOT" || die "a fuse-overlayfs process remained"
}

@test "run: kill -9 of a foreground run leaves no mount, no process, and an exited record" {
  kill9_foreground victim
  run_kiln ps -a --format '{{.Names}} {{.State}}'
  assert_output_contains "victim exited"
  run_kiln system check
}

@test "run: kill -9 of kiln also ends a container running as another user (-u 1000)" {
  skip_unless_subuid
  # Changing ids clears a parent-death signal: the container sets it again after.
  kill9_foreground victim1000 -u 1000
  run_kiln ps -a --format '{{.Names}} {{.State}}'
  assert_output_contains "victim1000 exited"
}

@test "run: an image of 130 layers mounts and runs (the lower dirs fit one page)" {
  local ctx=$BATS_TEST_TMPDIR/many i
  mkdir -p "$ctx"
  echo "FROM $IMG" >"$ctx/Dockerfile"
  for i in $(seq 130); do
    echo "$i" >"$ctx/f$i"
    echo "COPY f$i /layer/f$i" >>"$ctx/Dockerfile"
  done
  run_kiln build -q -t localhost/many "$ctx"
  run_kiln image inspect localhost/many
  assert_equal "$(jq '.[0].RootFS.Layers | length' <<<"$KILN_STDOUT")" 131 "layers of localhost/many"
  run_kiln run --rm localhost/many sh -c 'ls /layer | wc -l; cat /layer/f1 /layer/f130'
  assert_line 0 "130"
  assert_line 1 "1"
  assert_line 2 "130"
  # The container's own layer sits above all 130: a change shows, and stays its own.
  run_kiln run --name many localhost/many sh -c 'echo changed >/layer/f65; cat /layer/f65'
  assert_equal "$KILN_STDOUT" "changed"
  run_kiln diff many
  assert_line "C /layer/f65"
  run_kiln rm many
  run_kiln run --rm localhost/many cat /layer/f65
  assert_equal "$KILN_STDOUT" "65"
  run_kiln rmi localhost/many
}
