#!/usr/bin/env bash
# Fuzzes every target of tests/fuzz for SECONDS each (default 30), starting from the committed
# corpora, and fails if any target crashes (a panic, a failed property, a timeout or the memory
# limit). See tests/fuzz/README.md.
#
#   bash tests/fuzz/run.sh [SECONDS]            all targets (FUZZ_TARGETS="a b" for some)
#   bash tests/fuzz/run.sh --merge [SECONDS]    the same, then fold what was found (and the
#                                               seeds of seeds.py, if written) into the
#                                               committed corpora, minimized
#   bash tests/fuzz/run.sh --replay             run the saved reproducers of tests/fuzz/crashes
#
# Installs cargo-fuzz if missing. Builds on the stable toolchain: without a sanitizer cargo-fuzz
# passes rustc no -Z flag (an ASan build would need RUSTC_BOOTSTRAP=1; see the README). Everything
# it writes goes under tests/fuzz/target (or $FUZZ_TARGET_DIR), never into the committed
# corpora unless --merge is given.
set -euo pipefail
cd "$(dirname "$0")/../.."

CARGO_FUZZ_VERSION=0.13.2
FUZZ_DIR=tests/fuzz
mode=run
case "${1:-}" in
  --merge) mode=merge; shift ;;
  --replay) mode=replay; shift ;;
esac
seconds=${1:-30}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$PWD/$FUZZ_DIR/target}
# Per-input limits: a hang or a memory blow-up is a crash too.
limits=(-rss_limit_mb=512 -timeout=10 -max_len=65536)
jobs=${FUZZ_JOBS:-$(nproc)}
[ "$jobs" -gt 2 ] && jobs=2

start=$(date +%s)
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
  echo "== cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

targets=${FUZZ_TARGETS:-$(cargo fuzz list --fuzz-dir "$FUZZ_DIR")}
echo "== cargo fuzz build ($(echo $targets | wc -w) targets, no sanitizer, release + debug assertions)"
if [ -n "${FUZZ_TARGETS:-}" ]; then
  for t in $targets; do cargo fuzz build --fuzz-dir "$FUZZ_DIR" --sanitizer none --codegen-units 16 "$t"; done
else
  cargo fuzz build --fuzz-dir "$FUZZ_DIR" --sanitizer none --codegen-units 16
fi
bin=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release
echo "   built in $(( $(date +%s) - start )) s"

if [ "$mode" = replay ]; then
  status=0
  for t in $targets; do
    [ -d "$FUZZ_DIR/crashes/$t" ] || continue
    for f in "$FUZZ_DIR/crashes/$t"/*; do
      [ -f "$f" ] || continue
      case "$f" in *.md|*.txt) continue ;; esac
      # FUZZ_STRICT: the targets drop their exclusions for known, reported bugs.
      if FUZZ_STRICT=1 "$bin/$t" "${limits[@]}" "$f" >/dev/null 2>&1; then
        echo "fixed:   $t $f"
      else
        echo "CRASHES: $t $f"; status=1
      fi
    done
  done
  exit $status
fi

work=$CARGO_TARGET_DIR/fuzz-run
rm -rf "$work"
mkdir -p "$work"

# One target: new inputs go to a scratch corpus first, the committed one is only read.
fuzz_one() {
  local t=$1
  mkdir -p "$work/$t/new" "$work/$t/artifacts" "$FUZZ_DIR/corpus/$t"
  if "$bin/$t" "${limits[@]}" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$work/$t/artifacts/" "$work/$t/new" "$FUZZ_DIR/corpus/$t" \
      >"$work/$t/log" 2>&1; then
    echo ok >"$work/$t/status"
  else
    echo failed >"$work/$t/status"
  fi
}

echo "== fuzzing each target for $seconds s ($jobs at a time)"
running=0
for t in $targets; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=()
for t in $targets; do
  log=$work/$t/log
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  corpus=$(ls "$FUZZ_DIR/corpus/$t" | wc -l)
  if [ "$(cat "$work/$t/status")" = ok ]; then
    printf '   %-20s ok      %10s execs, cov %s, %s corpus inputs\n' "$t" "$execs" "$cov" "$corpus"
  else
    printf '   %-20s FAILED  (log: %s)\n' "$t" "$log"
    failed+=("$t")
  fi
done

if [ "$mode" = merge ]; then
  echo "== merging new inputs into $FUZZ_DIR/corpus (minimized)"
  for t in $targets; do
    mkdir -p "$work/$t/merged"
    "$bin/$t" "${limits[@]}" -set_cover_merge=1 "$work/$t/merged" "$FUZZ_DIR/corpus/$t" "$work/$t/new" \
      $( [ -d "$FUZZ_DIR/seeds/$t" ] && echo "$FUZZ_DIR/seeds/$t" ) >"$work/$t/merge.log" 2>&1
    rm -rf "${FUZZ_DIR:?}/corpus/$t"
    mv "$work/$t/merged" "$FUZZ_DIR/corpus/$t"
    echo "   $t: $(ls "$FUZZ_DIR/corpus/$t" | wc -l) inputs"
  done
fi

echo "   fuzz step took $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo "== $t crashed; the end of its log:"
    tail -n 40 "$work/$t/log"
    echo "-- reproducer(s): $(ls "$work/$t/artifacts/"* 2>/dev/null | tr '\n' ' ')"
    echo "-- replay: $bin/$t <file>; save it under $FUZZ_DIR/crashes/$t/ (not in corpus/)"
  done
  exit 1
fi
echo "   no crash in $(echo $targets | wc -w) targets"
