#!/usr/bin/env bats
# Images in local storage: import, images (columns, flags, filters, formats), tag,
# rmi (names, ids, prefixes, --force, shared layers, exit codes), image inspect,
# history, info, and the errors for bad references and missing images.
# kiln-test-runs: single-id

load helpers

# mk_rootfs NAME TEXT: a tiny root file system tarball whose /etc/content is TEXT;
# prints its path.
mk_rootfs() {
  local dir=$BATS_TEST_TMPDIR/rootfs-$1
  mkdir -p "$dir/etc" "$dir/bin"
  printf '%s\n' "$2" >"$dir/etc/content"
  tar -C "$dir" --numeric-owner --owner=0 --group=0 --mtime=@1700000000 --sort=name -cf "$dir.tar" .
  echo "$dir.tar"
}

# import_tar NAME TEXT [REFERENCE] [FLAGS...]: imports mk_rootfs NAME TEXT, id in $id.
import_tar() {
  local tarball
  tarball=$(mk_rootfs "$1" "$2")
  run_kiln import "${@:4}" "$tarball" ${3:+"$3"}
  id=$KILN_STDOUT
  [[ $id =~ ^[0-9a-f]{64}$ ]] || die "import printed \"$id\", not an image id"
}

# The number of extracted layers in the store.
layer_count() {
  "$KILN" unshare sh -c 'ls "$KILN_ROOT/layers" | grep -c "^[0-9a-f]\{64\}$"' 2>/dev/null || true
}

@test "images: podman's columns, one row per name, newest first" {
  import_tar a one localhost/first
  local first=$id
  sleep 1
  import_tar b two second:v1
  local second=$id
  run_kiln tag second:v1 other

  run_kiln images
  assert_equal "$KILN_STDERR" "" "stderr of images"
  [[ ${lines[0]} =~ ^REPOSITORY\ +TAG\ +IMAGE\ ID\ +CREATED\ +SIZE$ ]] || die "header: ${lines[0]}"
  assert_equal "${#lines[@]}" 4 "line count"
  # Newest image first; its two names are two rows.
  [[ ${lines[1]} =~ ^localhost/(second|other)\ + ]] || die "row 1: ${lines[1]}"
  [[ ${lines[3]} =~ ^localhost/first\ +latest\ +${first:0:12}\ +.*(seconds|second)\ ago\ +[0-9.]+\ [kM]?B$ ]] ||
    die "row 3: ${lines[3]}"
  assert_line "$(grep 'localhost/second ' <<<"$output")"
  [[ $output =~ localhost/second\ +v1\ +${second:0:12} ]] || die "no row for localhost/second:v1"
  [[ $output =~ localhost/other\ +latest\ +${second:0:12} ]] || die "no row for localhost/other:latest"
}

@test "images: -q, --no-trunc, --digests, -n, --sort and IMAGE" {
  import_tar a one localhost/aa
  local a=$id
  import_tar b two localhost/bb
  local b=$id
  run_kiln tag bb bb2

  run_kiln images -q
  assert_equal "$(sort <<<"$output")" "$(printf '%s\n' "${a:0:12}" "${b:0:12}" | sort)" "images -q"
  run_kiln images -q --no-trunc
  assert_equal "$(sort <<<"$output")" "$(printf 'sha256:%s\n' "$a" "$b" | sort)" "images -q --no-trunc"

  run_kiln images --digests
  [[ ${lines[0]} =~ ^REPOSITORY\ +TAG\ +DIGEST\ +IMAGE\ ID ]] || die "header: ${lines[0]}"
  [[ ${lines[1]} =~ sha256:[0-9a-f]{64} ]] || die "no digest in ${lines[1]}"

  run_kiln images -n
  assert_equal "${#lines[@]}" 3 "rows without a header"
  [[ ${lines[0]} != REPOSITORY* ]] || die "header printed with -n"

  run_kiln images --sort repository --format '{{.Repository}}:{{.Tag}}'
  assert_equal "$output" $'localhost/aa:latest\nlocalhost/bb:latest\nlocalhost/bb2:latest' "sorted by repository"
  run_kiln images --sort size --format '{{.ID}}'
  assert_equal "${#lines[@]}" 3 "rows sorted by size"
  run_kiln 125 images --sort nosuch
  assert_output_contains "--sort"

  run_kiln images --format '{{.Repository}}' aa
  assert_output "localhost/aa"
}

@test "images: --filter dangling and reference, podman globbing" {
  import_tar a one localhost/app/web:1
  import_tar b two quay.io/team/tool:2
  import_tar c three
  local dangling=$id

  run_kiln images --filter dangling=true --format '{{.Repository}} {{.Tag}} {{.ID}}'
  assert_output "<none> <none> ${dangling:0:12}"
  run_kiln images -f dangling=false --format '{{.Repository}}:{{.Tag}}' --sort repository
  assert_equal "$output" $'localhost/app/web:1\nquay.io/team/tool:2' "named images"

  run_kiln images --filter 'reference=localhost/*' --format '{{.Repository}}'
  assert_output ""  # '*' does not cross '/'
  run_kiln images --filter 'reference=localhost/*/*' --format '{{.Repository}}'
  assert_output "localhost/app/web"
  run_kiln images --filter reference=tool --format '{{.Repository}}'
  assert_output "quay.io/team/tool"
  run_kiln images --filter 'reference=*/tool:2' --format '{{.Repository}}'
  assert_output "quay.io/team/tool"
  run_kiln images --filter 'reference=web:nope' --format '{{.Repository}}'
  assert_output ""
  run_kiln 125 images --filter label=x
  assert_output_contains "label"
}

@test "images: --format json has podman's fields; templates have podman's" {
  import_tar a one localhost/js:1
  run_kiln images --format json
  python3 - "$KILN_STDOUT" "$id" <<'PY'
import json, sys
images = json.loads(sys.argv[1])
assert len(images) == 1, images
image = images[0]
for key in ("Id", "ParentId", "RepoTags", "RepoDigests", "Size", "SharedSize", "VirtualSize", "Labels",
            "Containers", "Names", "Digest", "History", "Created", "CreatedAt"):
    assert key in image, key
assert image["Id"] == sys.argv[2], image["Id"]
assert image["RepoTags"] == ["localhost/js:1"], image["RepoTags"]
assert image["Names"] == ["localhost/js:1"], image["Names"]
assert isinstance(image["Created"], int) and image["Created"] > 1600000000
assert image["Digest"].startswith("sha256:")
assert image["RepoDigests"] == ["localhost/js@" + image["Digest"]], image["RepoDigests"]
assert image["Size"] > 0 and image["Containers"] == 0
PY
  run_kiln images --format '{{.ID}}|{{.Tag}}|{{.Digest}}|{{.CreatedSince}}|{{.CreatedAt}}|{{.Size}}'
  [[ $output =~ ^${id:0:12}\|1\|sha256:[0-9a-f]{64}\|.*ago\|[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z\|[0-9.]+\ [kM]?B$ ]] ||
    die "template output: $output"
  run_kiln images --format 'table {{.Repository}}\t{{.Tag}}'
  [[ ${lines[0]} =~ ^REPOSITORY\ +TAG$ ]] || die "table header: ${lines[0]}"
}

@test "tag: several targets, normalised names, moving a name" {
  import_tar a one localhost/src
  local a=$id
  run_kiln tag src t1 quay.io/x/y:2 localhost/t3:v
  run_kiln images --format '{{.Repository}}:{{.Tag}}' --sort repository
  assert_equal "$output" $'localhost/src:latest\nlocalhost/t1:latest\nlocalhost/t3:v\nquay.io/x/y:2' "names"
  # By id prefix, and a name moving from one image to another.
  import_tar b two localhost/other
  run_kiln tag "${a:0:8}" other
  run_kiln image inspect --format '{{.Id}}' other
  assert_output "$a"
  run_kiln images --filter dangling=true -q
  assert_equal "${#lines[@]}" 1 "the image that lost its only name is dangling"
}

@test "tag: a bad reference or a missing source is one error line" {
  import_tar a one localhost/src
  run_kiln 125 tag src Bad:Ref
  assert_equal "$KILN_STDOUT" "" "stdout"
  assert_equal "$(wc -l <<<"$KILN_STDERR")" 1 "stderr lines"
  assert_output_contains '"Bad:Ref"'
  run_kiln 125 tag src ok 'also bad'
  run_kiln images --format '{{.Repository}}'
  assert_output "localhost/src"  # nothing was added
  run_kiln 125 tag nosuchimage t
  assert_output_contains "nosuchimage"
  run_kiln 125 tag src
}

@test "rmi: a name of several untags, the last name deletes" {
  import_tar a one localhost/keep
  local a=$id
  run_kiln tag keep second third
  run_kiln rmi second
  assert_equal "$KILN_STDOUT" "Untagged: localhost/second:latest" "rmi of one name"
  run_kiln image rm keep third
  assert_equal "$KILN_STDOUT" "Untagged: localhost/keep:latest
Untagged: localhost/third:latest
Deleted: $a" "rmi of the last names"
  run_kiln images -q
  assert_output ""
  assert_equal "$(layer_count)" 0 "layers left"
}

@test "rmi: by id needs --force when the image has several names; id prefixes" {
  import_tar a one localhost/n1
  local a=$id
  run_kiln tag n1 n2
  run_kiln 2 rmi "$a"
  assert_output_contains "unable to delete image \"$a\" by ID with more than one tag ([localhost/n1:latest localhost/n2:latest]): please force removal"
  run_kiln rmi -f "${a:0:10}"
  assert_line "Deleted: $a"
  assert_line "Untagged: localhost/n1:latest"

  import_tar b two localhost/p
  run_kiln rmi "sha256:${id:0:6}"
  assert_line "Deleted: $id"
}

@test "rmi: a missing image exits 1 and the others are still removed" {
  import_tar a one localhost/x1
  local a=$id
  import_tar b two localhost/x2
  local b=$id
  run_kiln 1 rmi x1 nosuchimage x2
  assert_line "Deleted: $a"
  assert_line "Deleted: $b"
  assert_output_contains "nosuchimage"
  run_kiln images -q
  assert_output ""
}

@test "rmi: a layer shared with another image stays" {
  local tarball
  tarball=$(mk_rootfs shared same)
  run_kiln import --change 'ENV A=1' "$tarball" localhost/s1
  local s1=$KILN_STDOUT
  run_kiln import --change 'ENV A=2' "$tarball" localhost/s2
  local s2=$KILN_STDOUT
  [[ $s1 != "$s2" ]] || die "two configs gave one id"
  assert_equal "$(layer_count)" 1 "layers of two imports of one tarball"
  run_kiln rmi s1
  assert_line "Deleted: $s1"
  assert_equal "$(layer_count)" 1 "layers after removing one image"
  run_kiln system check
  assert_line "store ok"
  run_kiln rmi s2
  assert_equal "$(layer_count)" 0 "layers after removing both"
  run_kiln system check
  assert_line "store ok"
}

@test "rmi: --all removes every image; an image in use exits 2, -f removes its containers" {
  import_tar a one localhost/r1
  import_tar b two localhost/r2
  run_kiln rmi -a
  assert_equal "$(grep -c '^Deleted: ' <<<"$KILN_STDOUT")" 2 "deleted images"
  run_kiln images -q
  assert_output ""
  run_kiln 125 rmi -a localhost/r1

  "$KILN" help | grep -qE '^  create ' || skip "no kiln create yet to make a container"
  import_tar c three localhost/used
  run_kiln create --name user1 localhost/used true
  run_kiln 2 rmi localhost/used
  assert_output_contains "in use"
  # -f removes the image's stopped containers with it, as podman's does.
  run_kiln rmi -f localhost/used
  assert_output_contains "Deleted: "
  run_kiln ps -a -q
  assert_output ""
  run_kiln images -q
  assert_output ""
  run_kiln system check
}

@test "image inspect: podman's shape; Id is the config digest" {
  import_tar a one localhost/insp:1 -m 'a message'
  run_kiln image inspect localhost/insp:1
  local json=$KILN_STDOUT
  # The config digest, computed here from the blobs: manifest -> config -> sha256sum.
  run_kiln images --digests --format '{{.Digest}}'
  local manifest_digest=$KILN_STDOUT
  local manifest config_digest config_hash
  manifest=$("$KILN" unshare cat "$KILN_ROOT/blobs/sha256/${manifest_digest#sha256:}" 2>/dev/null)
  config_digest=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["config"]["digest"])' "$manifest")
  config_hash=$("$KILN" unshare cat "$KILN_ROOT/blobs/sha256/${config_digest#sha256:}" 2>/dev/null | sha256sum | cut -d' ' -f1)
  assert_equal "$config_hash" "$id" "sha256 of the config blob"
  python3 - "$json" "$id" "$manifest_digest" <<'PY'
import json, sys
objects = json.loads(sys.argv[1])
assert isinstance(objects, list) and len(objects) == 1
o = objects[0]
keys = list(o)
for key in ("Id", "Digest", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Config", "Version",
            "Author", "Architecture", "Os", "Size", "VirtualSize", "GraphDriver", "RootFS", "Labels",
            "Annotations", "ManifestType", "User", "History", "NamesHistory"):
    assert key in o, key
assert keys.index("Id") < keys.index("Digest") < keys.index("RepoTags") < keys.index("Config")
assert o["Id"] == sys.argv[2]
assert o["Digest"] == sys.argv[3]
assert o["RepoTags"] == ["localhost/insp:1"]
assert o["Os"] == "linux" and o["Architecture"]
assert o["RootFS"]["Type"] == "layers" and len(o["RootFS"]["Layers"]) == 1
assert o["ManifestType"] == "application/vnd.oci.image.manifest.v1+json"
assert len(o["History"]) == 1 and o["History"][0]["comment"] == "a message"
assert o["History"][0]["created_by"].startswith("/bin/sh -c #(nop) ADD file:")
assert o["Size"] > 0
PY
  run_kiln image inspect --format '{{.Id}} {{.Os}}' insp:1 "${id:0:12}"
  assert_equal "$output" "$id linux
$id linux" "template per object"
  run_kiln inspect --type image --format '{{json .RepoTags}}' localhost/insp:1
  assert_output '["localhost/insp:1"]'
}

@test "image inspect / inspect: a missing image is exit 125 naming it" {
  import_tar a one localhost/here
  run_kiln 125 image inspect nosuchimage
  assert_output_contains "no such image"
  assert_output_contains "nosuchimage"
  run_kiln 125 image inspect here nosuchimage
  assert_output_contains '"Id"'  # the one found is still printed
  run_kiln 125 inspect nosuchthing
  assert_output_contains "no such object"
  run_kiln 125 inspect --type bogus here
}

@test "history: columns, truncation, --no-trunc, --human=false, -q, json" {
  import_tar a one localhost/h -m 'imported here'
  run_kiln history h
  [[ ${lines[0]} =~ ^IMAGE\ +CREATED\ +CREATED\ BY\ +SIZE\ +COMMENT$ ]] || die "header: ${lines[0]}"
  assert_equal "${#lines[@]}" 2 "lines"
  [[ ${lines[1]} =~ ^${id:0:12}\ +.*ago\ +/bin/sh\ -c\ \#\(nop\)\ ADD\ file:[0-9a-f]+\.\.\.\ +[0-9.]+\ [kM]?B\ +imported\ here$ ]] ||
    die "row: ${lines[1]}"
  run_kiln history --format '{{.CreatedBy}}' h
  assert_equal "${#output}" 45 "truncated CREATED BY width"
  run_kiln history --no-trunc --format '{{.ID}} {{.CreatedBy}}' h
  [[ $output =~ ^$id\ /bin/sh\ -c\ \#\(nop\)\ ADD\ file:[0-9a-f]{64}\ in\ /\ ?$ ]] || die "no-trunc: $output"
  run_kiln history --human=false --format '{{.Created}} {{.Size}}' h
  [[ $output =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z\ [0-9]+$ ]] || die "raw: $output"
  run_kiln history -q h
  assert_output "${id:0:12}"
  run_kiln history --format json h
  python3 -c 'import json,sys; h=json.loads(sys.argv[1]); assert h[0]["id"]==sys.argv[2] and h[0]["comment"]=="imported here" and h[0]["size"]>0, h' "$KILN_STDOUT" "$id"
  run_kiln 125 history nosuchimage
  assert_output_contains "nosuchimage"
}

@test "info: host, id mappings, store and version" {
  import_tar a one localhost/i
  run_kiln info
  assert_equal "$KILN_STDERR" "" "stderr"
  assert_output_contains "host:"
  assert_output_contains "  os: linux"
  assert_output_contains "  rootless: true"
  assert_output_contains "  idMappings:"
  assert_output_contains "  root: $KILN_ROOT"
  assert_output_contains "  runroot: $KILN_RUNROOT"
  assert_output_contains "  images: 1"
  assert_output_contains "  containers: 0"
  assert_output_contains "version:"
  if is_single_id_user; then
    assert_output_contains "chownInContainers: emulated (single-id)"
    assert_output_contains "singleIdMode: true"
  else
    assert_output_contains "chownInContainers: full"
    assert_output_contains "host_id: $(subuid_range | cut -d' ' -f1)"
  fi
  run_kiln info --format json
  python3 -c 'import json,sys; i=json.loads(sys.argv[1]); assert i["store"]["images"]==1 and i["host"]["os"]=="linux"' "$KILN_STDOUT"
  run_kiln info --format '{{.store.root}}'
  assert_output "$KILN_ROOT"
}

@test "missing images: every reader names the image, exit 125" {
  run_kiln images
  assert_equal "${#lines[@]}" 1 "an empty store lists the header only"
  run_kiln 125 history nope
  assert_output_contains "nope"
  run_kiln 125 image inspect nope
  assert_output_contains "nope"
  run_kiln 1 rmi nope
  assert_output_contains "nope"
  run_kiln 125 tag nope x
  assert_output_contains "nope"
}
