#!/usr/bin/env bats
# Walks every command `kiln help` lists: --help is well-formed, a bad flag or a
# missing argument is one stderr line and 125, and the man page prose exists and
# names only flags the command really has.

load helpers

# The visible commands, one per line ("image ls" stays one line).
all_commands() {
  "$KILN" help | awk '
    /^Commands:/ { on = 1; next }
    on && /^$/ { exit }
    on && /^  [^ ]/ { sub(/^  /, ""); sub(/  .*$/, ""); print }'
}

setup() {
  kiln_setup
  mapfile -t commands < <(all_commands)
  ((${#commands[@]} > 0)) || die "kiln help lists no commands"
}

# check_each FUNCTION: runs FUNCTION CMD for every command and reports all failures.
check_each() {
  local cmd failed=()
  for cmd in "${commands[@]}"; do
    "$1" "$cmd" || failed+=("$cmd")
  done
  ((${#failed[@]} == 0)) || die "failed for: ${failed[*]}"
}

help_is_well_formed() {
  local cmd=$1 out err rc=0
  out=$("$KILN" $cmd --help 2>"$BATS_TEST_TMPDIR/err") || rc=$?
  err=$(<"$BATS_TEST_TMPDIR/err")
  if ((rc != 0)); then echo "kiln $cmd --help: exit $rc: $err" >&2; return 1; fi
  if [[ -n $err ]]; then echo "kiln $cmd --help: wrote to stderr: $err" >&2; return 1; fi
  if [[ $out != "Usage: kiln $cmd"* ]]; then echo "kiln $cmd --help: does not start with 'Usage: kiln $cmd'" >&2; return 1; fi
  local line long
  long=$(awk 'length($0) >= 80' <<<"$out")
  if [[ -n $long ]]; then echo "kiln $cmd --help: lines of 80 columns or more:"$'\n'"$long" >&2; return 1; fi
  local via_help
  via_help=$("$KILN" help $cmd 2>&1) || true
  if [[ $via_help != "$out" ]]; then echo "kiln help $cmd differs from kiln $cmd --help" >&2; return 1; fi
}

bad_flag_is_one_line() {
  local cmd=$1 rc=0 out
  out=$("$KILN" $cmd --kiln-no-such-flag 2>"$BATS_TEST_TMPDIR/err" </dev/null) || rc=$?
  local err
  err=$(<"$BATS_TEST_TMPDIR/err")
  if ((rc != 125)); then echo "kiln $cmd --kiln-no-such-flag: exit $rc, expected 125" >&2; return 1; fi
  if [[ -n $out ]]; then echo "kiln $cmd --kiln-no-such-flag: wrote to stdout: $out" >&2; return 1; fi
  if [[ $(wc -l <<<"$err") != 1 || $err != *--kiln-no-such-flag* ]]; then
    echo "kiln $cmd --kiln-no-such-flag: stderr is not one line naming the flag:"$'\n'"$err" >&2
    return 1
  fi
}

# The positional part of the usage line with every [optional] group removed.
required_args() {
  local usage
  usage=$("$KILN" $1 --help | head -1)
  usage=${usage#"Usage: kiln $1"}
  # Remove innermost [...] groups until none is left.
  while [[ $usage =~ \[[^][]*\] ]]; do usage=${usage/"${BASH_REMATCH[0]}"/}; done
  echo $usage
}

# The usage line's arguments, optional ones included ("" for a command that takes none).
any_args() {
  local usage
  usage=$("$KILN" $1 --help | head -1)
  usage=${usage#"Usage: kiln $1"}
  usage=${usage//\[OPTIONS\]/}
  echo $usage
}

argument_count_is_checked() {
  local cmd=$1 rc=0 err
  if [[ -n $(required_args "$cmd") ]]; then
    "$KILN" $cmd >/dev/null 2>"$BATS_TEST_TMPDIR/err" </dev/null || rc=$?
    err=$(<"$BATS_TEST_TMPDIR/err")
    if ((rc != 125)) || [[ $(wc -l <<<"$err") != 1 ]]; then
      echo "kiln $cmd without its required arguments: exit $rc (want 125), stderr:"$'\n'"$err" >&2
      return 1
    fi
  elif [[ -z $(any_args "$cmd") ]]; then
    "$KILN" $cmd kiln-extra-arg >/dev/null 2>"$BATS_TEST_TMPDIR/err" </dev/null || rc=$?
    err=$(<"$BATS_TEST_TMPDIR/err")
    if ((rc != 125)) || [[ $(wc -l <<<"$err") != 1 ]]; then
      echo "kiln $cmd with an argument it does not take: exit $rc (want 125), stderr:"$'\n'"$err" >&2
      return 1
    fi
  fi
}

man_page_path() {
  echo "$KILN_SOURCE_ROOT/man/kiln-${1// /-}.md"
}

has_man_page() {
  local page
  page=$(man_page_path "$1")
  [[ -f $page ]] || { echo "kiln $1: no man page prose at man/${page##*/}" >&2; return 1; }
}

prose_flags_exist() {
  local cmd=$1 page help flag missing=()
  page=$(man_page_path "$cmd")
  [[ -f $page ]] || return 0
  help=$("$KILN" $cmd --help)
  # Flags of Dockerfile instructions (COPY --from, RUN --mount, ADD --checksum) are not
  # the command's.
  for flag in $(grep -oE -- '([A-Z]+ )?--[a-z][a-z0-9-]*' "$page" | grep -vE '^[A-Z]+ ' | sort -u); do
    [[ $flag == --help ]] && continue
    grep -qE -- "(^|[ ,])${flag}([ =]|\$)" <<<"$help" || missing+=("$flag")
  done
  if ((${#missing[@]})); then
    echo "man/${page##*/} names flags kiln $cmd --help lacks: ${missing[*]}" >&2
    return 1
  fi
}

@test "help: every command's --help is on stdout, under 80 columns, and starts with Usage" {
  check_each help_is_well_formed
}

@test "help: a bad flag is one stderr line naming it and exit 125" {
  check_each bad_flag_is_one_line
}

@test "help: a wrong argument count is one stderr line and exit 125" {
  check_each argument_count_is_checked
}

@test "help: every command has man page prose" {
  check_each has_man_page
}

@test "help: flags named in man page prose exist in the command's --help" {
  check_each prose_flags_exist
}

@test "help: kiln help's own lines are under 80 columns" {
  run_kiln help
  local long
  long=$(awk 'length($0) >= 80' <<<"$KILN_STDOUT")
  [[ -z $long ]] || die "kiln help lines of 80 columns or more:"$'\n'"$long"
}
