#!/usr/bin/env bats
# The first things a user types: version, help, and the errors for a mistyped
# command, flag or argument count (one stderr line, exit 125, a hint).
# kiln-test-runs: single-id

load helpers

@test "kiln --version and kiln version" {
  run_kiln --version
  [[ $output =~ ^kiln\ version\ [0-9]+\.[0-9]+\.[0-9]+ ]] || die "unexpected version output: $output"
  local version=$output
  run_kiln version
  assert_equal "$output" "$version" "kiln version"
  run_kiln -v
  assert_equal "$output" "$version" "kiln -v"
}

@test "kiln help lists commands on stdout" {
  run_kiln help
  assert_output_contains "Usage: kiln"
  assert_output_contains "Commands:"
  assert_output_contains "version"
  assert_equal "$KILN_STDERR" "" "stderr of kiln help"
  local help=$KILN_STDOUT
  run_kiln --help
  assert_equal "$KILN_STDOUT" "$help" "kiln --help"
  run_kiln -h
  assert_equal "$KILN_STDOUT" "$help" "kiln -h"
}

@test "kiln help CMD is kiln CMD --help" {
  run_kiln help version
  assert_output_contains "Usage: kiln version"
  local help=$KILN_STDOUT
  run_kiln version --help
  assert_equal "$KILN_STDOUT" "$help" "kiln version --help"
}

@test "kiln without a command fails with a hint" {
  run_kiln 125
  assert_output_contains "missing command"
}

@test "unknown command: exit 125, one stderr line naming it and a hint" {
  run_kiln 125 nosuchcommand
  assert_equal "$KILN_STDOUT" "" "stdout"
  assert_equal "$(wc -l <<<"$KILN_STDERR")" 1 "stderr line count"
  assert_output_contains "nosuchcommand"
  assert_output_contains "kiln --help"

  run_kiln 125 help nosuchcommand
  assert_output_contains "nosuchcommand"
}

@test "unknown flag: exit 125, one stderr line naming it" {
  run_kiln 125 version --no-such-flag
  assert_equal "$KILN_STDOUT" "" "stdout"
  assert_equal "$(wc -l <<<"$KILN_STDERR")" 1 "stderr line count"
  assert_output_contains "--no-such-flag"
  assert_output_contains "kiln version --help"

  run_kiln 125 --no-such-global version
  assert_output_contains "--no-such-global"

  # Commands whose flags end at the first argument (run, exec, unshare) say the same.
  run_kiln 125 run --no-such-flag localhost/busybox true
  assert_output "kiln: unknown flag: --no-such-flag (see 'kiln run --help')"
}

@test "a flag without its argument: exit 125" {
  run_kiln 125 version --log-level
  assert_equal "$(wc -l <<<"$KILN_STDERR")" 1 "stderr line count"
  assert_output_contains "--log-level"
}

@test "missing or extra arguments: exit 125 with the count" {
  run_kiln 125 completion
  assert_equal "$(wc -l <<<"$KILN_STDERR")" 1 "stderr line count"
  assert_output_contains "exactly 1 argument"
  run_kiln 125 version extra
  assert_output_contains "got 1"
}

@test "a bad global option value is one line and 125" {
  run_kiln 125 --log-level=loud version
  assert_output_contains "loud"
  run_kiln 125 --storage-driver=zfs unshare true
  assert_output_contains "zfs"
}

# Start-up cost is most of a short command's time: libcurl is opened only when a
# registry is reached, and the default build (-Dstatic_deps=true) links libarchive
# without its xml/ICU/nettle closure and libstdc++ statically.
@test "kiln starts without loading libcurl, libxml2, ICU or libstdc++" {
  command -v readelf >/dev/null || skip "readelf (binutils) is not installed"
  local needed
  needed=$(readelf -d "$KILN" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
  [[ -n $needed ]] || die "readelf found no NEEDED entries in $KILN"
  if [[ $needed == *libarchive.so* ]]; then
    skip "kiln was built with -Dstatic_deps=false (libarchive is shared)"
  fi
  local lib
  for lib in libcurl libxml2 libicu libnettle libstdc++ libcrypto libyaml-cpp libfmt; do
    [[ $needed != *"$lib"* ]] || die "kiln needs $lib at start-up: $(tr '\n' ' ' <<<"$needed")"
  done
  # The lazily loaded libcurl still works: a registry command reaches curl's error.
  run_kiln 125 search --tls-verify=false 127.0.0.1:1/nothing
  assert_output_contains "127.0.0.1:1"
}
