#!/usr/bin/env bash
# A throwaway one-node Ceph 16.2 (pacific) cluster with a radosgw in front, for bucketgate's
# integration tests against the production target (see tests/common/upstream.rs, which reads
# RGW_ENDPOINT / RGW_ACCESS_KEY / RGW_SECRET_KEY).
#
#   bash tests/rgw.sh start    # stops an old one, starts mon + osd (memstore) [+ mgr] + radosgw
#   bash tests/rgw.sh status   # which daemons are alive, and whether radosgw answers
#   bash tests/rgw.sh stop     # SIGTERM, then SIGKILL, every daemon this script started
#   bash tests/rgw.sh env      # prints the export lines the tests need
#   bash tests/rgw.sh gateway NAME PORT   # one more radosgw (client.rgw.NAME) on 127.0.0.1:PORT
#                                         # against the running cluster, in the foreground
#
# Settings that matter (learned the hard way, see DESIGN.md section 4):
#   - with `auth ... = none`, every ms_*_mode must be `crc`, or radosgw hangs at start;
#   - `tcp_nodelay=1` on the beast frontend, or small requests stall for 40 ms (Nagle + delayed ACK);
#   - pool size 1 and a RAM-backed memstore OSD, so it starts fast and needs no disk.
#
# Environment (all optional):
#   CEPH_DIR        state, logs and pid files          (default /tmp/bucketgate-ceph; wiped on start)
#   RGW_PORT        radosgw beast port on 127.0.0.1    (default 7480)
#   MON_PORT_V2/V1  monitor ports                      (default 3300 / 6789)
#   RGW_ACCESS_KEY  S3 access key of the test user     (default below)
#   RGW_SECRET_KEY  S3 secret key of the test user     (default below)
#   RGW_START_TIMEOUT  seconds allowed for the whole start (default 180)
#   CEPH_MGR=1      also start a ceph-mgr (not needed by radosgw; only makes `status` prettier)
set -euo pipefail

D=${CEPH_DIR:-/tmp/bucketgate-ceph}
RGW_PORT=${RGW_PORT:-7480}
MON_PORT_V2=${MON_PORT_V2:-3300}
MON_PORT_V1=${MON_PORT_V1:-6789}
# The same keys as ceph's vstart.sh and s3-tests' sample config.
RGW_ACCESS_KEY=${RGW_ACCESS_KEY:-0555b35654ad1656d804}
RGW_SECRET_KEY=${RGW_SECRET_KEY:-h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==}
RGW_START_TIMEOUT=${RGW_START_TIMEOUT:-180}
CEPH_MGR=${CEPH_MGR:-0}
CONF="$D/ceph.conf"
DAEMONS=(rgw mgr.x osd.0 mon.a) # stop order: clients first, monitor last

say() { echo "rgw.sh: $*" >&2; }

die() { # message; prints the tail of every log we have, then exits 1
  say "ERROR: $*"
  if [ "${STARTING:-0}" = 1 ] && [ -d "$D/log" ]; then
    for f in "$D"/log/*; do
      [ -s "$f" ] || continue
      echo "----- tail of $f -----" >&2
      tail -n 25 "$f" >&2 || true
    done
  fi
  if [ "${STARTING:-0}" = 1 ]; then
    STARTING=0
    say "stopping what was started"
    stop >&2 || true
  fi
  exit 1
}

START_TS=$(date +%s)
remaining() { echo $((START_TS + RGW_START_TIMEOUT - $(date +%s))); }

# wait_for "what" seconds cmd...: polls cmd every 0.25 s until it succeeds. Fails when the
# deadline passes or when the daemon whose pid file is named in $WATCH has died.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local left
  left=$(remaining)
  [ "$secs" -gt "$left" ] && secs=$left
  local deadline=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    if [ -n "${WATCH:-}" ] && ! alive "$WATCH"; then
      die "$WATCH exited while waiting for $what"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "timed out after ${secs}s waiting for $what"
    fi
    sleep 0.25
  done
}

# alive name: the daemon recorded in $D/run/name.fgpid is still running, and is ours (its
# command line names our ceph.conf, so a recycled pid is never mistaken for it).
alive() {
  local p="$D/run/$1.fgpid" pid
  [ -f "$p" ] || return 1
  pid=$(cat "$p")
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CONF"
}

need_binaries() {
  local missing=()
  for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b")
  done
  if [ "$CEPH_MGR" = 1 ]; then command -v ceph-mgr >/dev/null 2>&1 || missing+=(ceph-mgr); fi
  if [ ${#missing[@]} -gt 0 ]; then
    say "ERROR: missing binaries: ${missing[*]}"
    say "install with: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-mgr ceph-common curl"
    exit 1
  fi
}

port_free() { # port: nothing listens on 127.0.0.1:port
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

ceph_cmd() { ceph -c "$CONF" --connect-timeout 5 "$@"; }

spawn() { # name cmd...: starts a foreground daemon in the background, records its pid
  local name=$1
  shift
  "$@" >"$D/log/$name.out" 2>&1 &
  echo $! >"$D/run/$name.fgpid"
}

signed_list_buckets() { # the test user's keys work end to end
  # curl 7.88 does not send x-amz-content-sha256, which RGW requires: give it the empty body's.
  curl -sf --max-time 5 --aws-sigv4 "aws:amz:us-east-1:s3" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" "http://127.0.0.1:$RGW_PORT/"
}

write_conf() {
  local fsid=$1
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_PORT_V2,v1:127.0.0.1:$MON_PORT_V1]
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = false
# With auth=none the 'secure' messenger mode is impossible; radosgw defaults
# ms_mon_client_mode=secure and then hangs with 'get_initial_auth_request returned -13'.
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
run dir = $D/run
admin socket = $D/run/\$cluster-\$name.asok
log file = $D/log/\$cluster-\$name.log
pid file = $D/run/\$cluster-\$name.pid
keyring = $D/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
mon max pg per osd = 1000
mon osd down out interval = 0
osd max object name len = 460
osd max object namespace len = 64
debug ms = 0
[mon.a]
mon data = $D/mon/ceph-a
[mgr.x]
mgr data = $D/mgr/ceph-x
mgr initial modules =
[osd.0]
osd data = $D/osd/ceph-0
osd objectstore = memstore
memstore device bytes = 4294967296
osd memory target = 1073741824
[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $D/rgw
rgw dns name = localhost
rgw thread pool size = 64
rgw enable usage log = false
rgw enable ops log = false
debug rgw = 1
EOF
}

start() {
  need_binaries
  stop >/dev/null 2>&1 || true
  for p in "$RGW_PORT" "$MON_PORT_V2" "$MON_PORT_V1"; do
    port_free "$p" || die "port 127.0.0.1:$p is already in use (another Ceph or RGW?); set RGW_PORT / MON_PORT_V2 / MON_PORT_V1"
  done
  STARTING=1
  rm -rf "$D"
  mkdir -p "$D"/{mon/ceph-a,osd/ceph-0,mgr/ceph-x,rgw,run,log}
  local fsid osd_uuid id
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"

  ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$D/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" \
    --addv a "[v2:127.0.0.1:$MON_PORT_V2,v1:127.0.0.1:$MON_PORT_V1]" "$D/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" \
    >"$D/log/mon-mkfs.out" 2>&1 || die "ceph-mon --mkfs failed"

  spawn mon.a ceph-mon -c "$CONF" -i a -f
  WATCH=mon.a wait_for "the monitor (ceph -s)" 30 ceph_cmd -s
  say "monitor up after $(($(date +%s) - START_TS))s"

  if [ "$CEPH_MGR" = 1 ]; then
    spawn mgr.x ceph-mgr -c "$CONF" -i x -f
  fi

  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph_cmd osd new "$osd_uuid") || die "ceph osd new failed"
  [ "$id" = 0 ] || die "expected osd id 0, got '$id'"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$D/log/osd-mkfs.out" 2>&1 ||
    die "ceph-osd --mkfs failed"
  spawn osd.0 ceph-osd -c "$CONF" -i 0 -f
  WATCH=osd.0 wait_for "the OSD to be up" 60 sh -c "ceph -c '$CONF' --connect-timeout 5 osd stat | grep -q '1 up'"
  say "osd up after $(($(date +%s) - START_TS))s"

  spawn rgw radosgw -c "$CONF" -n client.rgw.gw -f
  WATCH=rgw wait_for "radosgw to answer on 127.0.0.1:$RGW_PORT" 150 \
    curl -sf --max-time 5 "http://127.0.0.1:$RGW_PORT/"
  say "radosgw answers after $(($(date +%s) - START_TS))s"

  radosgw-admin -c "$CONF" user create --uid=testid --display-name="M. Tester" \
    --email=tester@ceph.com --access-key="$RGW_ACCESS_KEY" --secret="$RGW_SECRET_KEY" \
    >"$D/user.json" 2>"$D/log/user-create.err" || die "radosgw-admin user create failed"
  WATCH=rgw wait_for "a SigV4-signed ListBuckets with the test user's keys" 30 signed_list_buckets

  STARTING=0
  echo "rgw.sh: rgw up in $(($(date +%s) - START_TS))s: http://127.0.0.1:$RGW_PORT (state in $D)"
  env_lines
}

stop() {
  local pids=() name p pid
  for name in "${DAEMONS[@]}"; do
    if alive "$name"; then
      pid=$(cat "$D/run/$name.fgpid")
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$name")
    fi
  done
  # Up to 10 s for a clean exit, then SIGKILL whatever is left.
  local deadline=$(($(date +%s) + 10))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    local any=0
    for name in "${pids[@]}"; do alive "$name" && any=1; done
    [ "$any" = 0 ] && break
    sleep 0.2
  done
  for name in "${DAEMONS[@]}"; do
    if alive "$name"; then
      kill -KILL "$(cat "$D/run/$name.fgpid")" 2>/dev/null || true
      say "killed $name with SIGKILL"
    fi
    rm -f "$D/run/$name.fgpid"
  done
  if [ ${#pids[@]} -gt 0 ]; then say "stopped: ${pids[*]}"; else say "nothing was running"; fi
}

status() {
  local name rc=0
  [ -f "$CONF" ] || {
    echo "no cluster in $D"
    return 1
  }
  for name in "${DAEMONS[@]}"; do
    if alive "$name"; then echo "$name: running (pid $(cat "$D/run/$name.fgpid"))"; else echo "$name: not running"; fi
  done
  if curl -sf --max-time 5 "http://127.0.0.1:$RGW_PORT/" >/dev/null; then
    echo "radosgw: answering on http://127.0.0.1:$RGW_PORT"
  else
    echo "radosgw: NOT answering on http://127.0.0.1:$RGW_PORT"
    rc=1
  fi
  if alive mon.a; then ceph_cmd -s 2>&1 || true; fi
  return $rc
}

# gateway NAME PORT: runs one more radosgw, `client.rgw.NAME`, on 127.0.0.1:PORT against the
# cluster `start` brought up, as real RGW deployments run several gateways over one cluster. It
# replaces this shell (exec), so the caller's child pid is radosgw itself: stop it by killing
# that pid. Its log is $D/log/ceph-client.rgw.NAME.log (one "starting new request" per request);
# the shared radosgw on RGW_PORT is left alone. Used by tests/pools.rs.
gateway() {
  local name=${1:-} port=${2:-}
  [ -n "$name" ] && [ -n "$port" ] || {
    echo "usage: $0 gateway NAME PORT" >&2
    exit 2
  }
  command -v radosgw >/dev/null 2>&1 || die "radosgw is not installed"
  [ -f "$CONF" ] || die "no cluster in $D: run '$0 start' first"
  mkdir -p "$D/rgw-$name"
  exec radosgw -c "$CONF" -n "client.rgw.$name" -f \
    --rgw-frontends "beast endpoint=127.0.0.1:$port tcp_nodelay=1" \
    --rgw-data "$D/rgw-$name" --rgw-dns-name localhost \
    --rgw-enable-usage-log=false --rgw-enable-ops-log=false \
    --rgw-thread-pool-size=16 --debug-rgw=1
}

env_lines() {
  echo "export RGW_ENDPOINT=127.0.0.1:$RGW_PORT"
  echo "export RGW_ACCESS_KEY='$RGW_ACCESS_KEY'"
  echo "export RGW_SECRET_KEY='$RGW_SECRET_KEY'"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
env) env_lines ;;
gateway)
  shift
  gateway "$@"
  ;;
*)
  echo "usage: $0 start|stop|status|env|gateway NAME PORT" >&2
  exit 2
  ;;
esac
