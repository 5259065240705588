# Shared helpers for the client scripts (rclone.sh, s3cmd.sh, ffmpeg.sh, curl.sh, awscli.sh),
# sourced, not run. Each script prints `ok: <check>` per passed check and stops at the first
# failure with `FAILED: <check>: <why>` on stderr and exit status 1.
#
# Sets WORK: $BG_WORK if given (kept), else a new temp dir removed on exit.

if [ -n "${BG_WORK:-}" ]; then
  WORK=$BG_WORK
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

pass() { echo "ok: $*"; }

# run "what" cmd...: runs cmd and prints its stdout; on failure prints what failed with the
# command's output (stdout and stderr).
run() {
  local what=$1
  shift
  local out err
  err=$(mktemp)
  if ! out=$("$@" 2>"$err"); then
    printf '%s\n' "$out" >&2
    cat "$err" >&2
    rm -f "$err"
    fail "$what: \`$*\` exited non-zero (output above)"
  fi
  rm -f "$err"
  printf '%s' "$out"
}

# run_to FILE "what" cmd...: like `run`, but the command's stdout goes to FILE, byte for byte
# (binary output cannot pass through a shell variable).
run_to() {
  local file=$1 what=$2
  shift 2
  if ! "$@" >"$file" 2>"$file.err"; then
    cat "$file.err" >&2
    fail "$what: \`$*\` exited non-zero (stderr above)"
  fi
}

# slice FILE OFFSET COUNT: COUNT bytes of FILE from OFFSET (0-based) on stdout.
slice() {
  dd if="$1" bs=65536 iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none
}

# same_bytes "what" WANT GOT: fails unless the two files are byte-identical.
same_bytes() {
  cmp -s "$2" "$3" || fail "$1: bytes differ ($(stat -c %s "$3") bytes, want $(stat -c %s "$2"); $(cmp "$2" "$3" 2>&1 | head -1))"
}

# random_file PATH BYTES: a file of BYTES random bytes.
random_file() {
  head -c "$2" /dev/urandom >"$1"
}
