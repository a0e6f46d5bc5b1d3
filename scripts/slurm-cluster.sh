#!/usr/bin/env bash
# A throwaway single-node Slurm cluster (Debian's slurm-wlm + munge) for the
# `agon sweep` integration test. No systemd, no cgroups, no accounting; runs
# as root. See docs/slurm-test.md.
#
#   scripts/slurm-cluster.sh install            # apt-get slurm-wlm + munge if missing
#   scripts/slurm-cluster.sh start  STATE_DIR   # munged, slurmctld, slurmd; waits for "idle"
#   scripts/slurm-cluster.sh status STATE_DIR   # daemons, sinfo, squeue
#   scripts/slurm-cluster.sh stop   STATE_DIR   # cancels jobs, stops what `start` started
#   scripts/slurm-cluster.sh env    STATE_DIR   # prints SLURM_CONF=STATE_DIR/slurm.conf
#
# Nothing is written to /etc/slurm: the configuration is STATE_DIR/slurm.conf
# and every Slurm command (sbatch, squeue, scontrol…) must run with
# SLURM_CONF set to it. `start` and `env` print that as their only line on
# stdout, `SLURM_CONF=/abs/STATE_DIR/slurm.conf`; progress goes to stderr.
# munge is the system's (/etc/munge/munge.key, /run/munge): a munged that
# already answers is reused and left running by `stop`.
#
# Environment (optional):
#   SLURM_CLUSTER_CTLD_PORT / SLURM_CLUSTER_SLURMD_PORT  ports (6817 / 6818)
#   SLURM_CLUSTER_CRED_EXPIRE  seconds a requeued job waits before it may
#                              start again (Slurm's default 120; here 10)
#   SLURM_CLUSTER_WAIT         seconds `start` waits for the node (60)
set -euo pipefail

PATH="$PATH:/usr/sbin:/sbin"
export PATH

log() { echo "slurm-cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

need_root() {
    [ "$(id -u)" = 0 ] || die "must run as root (installs packages, runs slurmd as root)"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# pid from a pid file if that process is alive and is the named program.
live_pid() { # FILE COMM
    local file=$1 comm=$2 pid
    [ -s "$file" ] || return 1
    pid=$(tr -dc 0-9 <"$file")
    [ -n "$pid" ] || return 1
    [ -r "/proc/$pid/comm" ] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
    # A zombie (exited, not yet reaped: PID 1 here may be no init) is dead.
    [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
    echo "$pid"
}

# True if something accepts TCP connections on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Sends TERM, waits up to $3 seconds, then KILL.
stop_pid() { # PID NAME SECONDS
    local pid=$1 name=$2 wait=$3 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < wait * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { log "stopped $name ($pid)"; return 0; }
        sleep 0.1
    done
    log "$name ($pid) ignored TERM for ${wait}s: KILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
}

# --------------------------------------------------------------------- install

pkg_versions() {
    dpkg-query -W -f '${Package} ${Version}, ' slurmctld munge 2>/dev/null | sed 's/, $//' || true
}

cmd_install() {
    need_root
    local t0 missing=() logf
    t0=$(now)
    for bin in slurmctld slurmd sbatch sinfo squeue scontrol munged munge unmunge; do
        command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
    done
    if [ ${#missing[@]} = 0 ]; then
        log "slurm-wlm and munge already installed ($(pkg_versions)); took $(elapsed "$t0")s"
        return 0
    fi
    log "installing slurm-wlm and munge (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages' maintainer scripts from starting daemons (munged,
    # slurmctld with a default config): `start` runs them. Only if the
    # machine has no policy of its own (Docker images usually do).
    local policy=/usr/sbin/policy-rc.d made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        made_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    logf=$(mktemp)
    local rc=0
    {
        apt-get update -qq &&
            apt-get install -y -qq --no-install-recommends \
                -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
                slurm-wlm slurmctld slurmd slurm-client munge
    } >"$logf" 2>&1 || rc=$?
    [ -z "$made_policy" ] || { rm -f "$policy"; trap - EXIT; }
    if [ $rc != 0 ]; then
        tail -n 40 "$logf" >&2
        rm -f "$logf"
        die "apt-get failed (status $rc)"
    fi
    rm -f "$logf"
    log "installed $(pkg_versions) in $(elapsed "$t0")s"
}

# ----------------------------------------------------------------------- start

state_dir() { # ARG [create]
    [ -n "${1:-}" ] || usage
    if [ "${2:-}" = create ]; then
        mkdir -p "$1"
    fi
    [ -d "$1" ] || die "no such directory: $1"
    (cd "$1" && pwd -P)
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() { # STATE
    local state=$1 i
    if munge_ok; then
        if live_pid "$state/munged.pid" munged >/dev/null; then
            log "munged already running (started by this script)"
        else
            log "munged already running (not ours; reused, left running by stop)"
        fi
        return 0
    fi
    id munge >/dev/null 2>&1 || die "no munge user: run '$0 install'"
    install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
    install -d -o munge -g munge -m 0755 /run/munge
    local key=/etc/munge/munge.key
    if [ ! -s "$key" ]; then
        log "creating $key"
        if ! mungekey --create --keyfile="$key" 2>/dev/null; then
            dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
        fi
    fi
    chown munge:munge "$key"
    chmod 0400 "$key"
    runuser -u munge -- munged
    for ((i = 0; i < 100; i++)); do
        munge_ok && break
        sleep 0.1
    done
    munge_ok || {
        tail -n 20 /var/log/munge/munged.log >&2 2>/dev/null || true
        die "munged did not come up"
    }
    cp /run/munge/munged.pid "$state/munged.pid"
    log "started munged ($(cat "$state/munged.pid"))"
}

write_conf() { # STATE HOST
    local state=$1 host=$2 cpus mem
    cpus=$(nproc)
    # Leave room for the OS; memory is not a consumable resource here
    # (CR_CPU), it only has to not exceed what slurmd sees.
    # (/proc/meminfo, not free(1): procps is not in minimal images.)
    mem=$(awk '/^MemTotal:/ { t = int($2 / 1024); m = t - 512; if (m < t / 2) m = int(t / 2); print m }' /proc/meminfo)
    cat >"$state/slurm.conf.new" <<EOF
# Written by scripts/slurm-cluster.sh: a single-node test cluster.
ClusterName=agontest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${SLURM_CLUSTER_CTLD_PORT:-6817}
SlurmdPort=${SLURM_CLUSTER_SLURMD_PORT:-6818}
AuthType=auth/munge
CredType=cred/munge
# A requeued job may not start again until its old credential expires.
AuthInfo=cred_expire=${SLURM_CLUSTER_CRED_EXPIRE:-10}
MpiDefault=none
MailProg=/bin/true
# No cgroups anywhere.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# One line per finished job (state, exit code), in lieu of accounting.
JobCompType=jobcomp/filetxt
JobCompLoc=$state/jobcomp.log
SchedulerType=sched/backfill
# Schedule every 1-2 s, not every 30-60 s: a requeued job restarts as soon
# as cred_expire allows.
SchedulerParameters=bf_interval=1,sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
StateSaveLocation=$state/state
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldTimeout=20
SlurmdTimeout=20
MessageTimeout=10
InactiveLimit=0
KillWait=5
Waittime=0
# Finished jobs stay visible to squeue/scontrol for this long.
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$state/slurm.conf.new" "$state/slurm.conf"
}

node_state() { sinfo -h -o %T 2>/dev/null | sed -n 1p; }  # sed reads all: no SIGPIPE under pipefail

show_logs() { # STATE
    local f
    for f in "$1/log/slurmctld.log" "$1/log/slurmd.log" /var/log/munge/munged.log; do
        [ -f "$f" ] || continue
        echo "---- tail $f" >&2
        tail -n 25 "$f" >&2
    done
}

cmd_start() {
    need_root
    local t0 state host ctld slurmd i st=
    t0=$(now)
    state=$(state_dir "${1:-}" create)
    host=$(hostname -s)
    for bin in slurmctld slurmd sbatch munged; do
        command -v "$bin" >/dev/null 2>&1 || die "$bin not found: run '$0 install' first"
    done
    # slurmd's per-step sockets are SPOOL/HOST_JOBID.STEPID: a Unix socket
    # path has at most 107 bytes.
    if [ $((${#state} + ${#host} + 30)) -gt 107 ]; then
        die "STATE_DIR path too long for slurmd's sockets (${#state} bytes): use a shorter one"
    fi
    export SLURM_CONF="$state/slurm.conf"
    mkdir -p "$state/state" "$state/spool" "$state/log"

    start_munge "$state"

    ctld=$(live_pid "$state/slurmctld.pid" slurmctld || true)
    slurmd=$(live_pid "$state/slurmd.pid" slurmd || true)
    if [ -n "$ctld" ] && [ -n "$slurmd" ]; then
        log "slurmctld ($ctld) and slurmd ($slurmd) already running"
    else
        [ -n "$ctld" ] || [ -n "$slurmd" ] || write_conf "$state" "$host"
        local port
        if [ -z "$ctld" ]; then
            port=$(sed -n 's/^SlurmctldPort=//p' "$SLURM_CONF")
            ! port_busy "$port" ||
                die "port $port is taken (another cluster? '$0 stop' its STATE_DIR, or set SLURM_CLUSTER_CTLD_PORT/SLURM_CLUSTER_SLURMD_PORT)"
            rm -f "$state/slurmctld.pid"
            slurmctld -f "$SLURM_CONF" || { show_logs "$state"; die "slurmctld failed to start"; }
        fi
        if [ -z "$slurmd" ]; then
            port=$(sed -n 's/^SlurmdPort=//p' "$SLURM_CONF")
            ! port_busy "$port" ||
                die "port $port is taken (another slurmd? set SLURM_CLUSTER_SLURMD_PORT)"
            rm -f "$state/slurmd.pid"
            slurmd -f "$SLURM_CONF" -N "$host" || { show_logs "$state"; die "slurmd failed to start"; }
        fi
    fi

    # Up = both of *this* STATE_DIR's daemons alive and the node idle. (A
    # daemon that lost its port exits, and sinfo could be answered by
    # someone else's slurmctld on the same port.)
    local wait=${SLURM_CLUSTER_WAIT:-60} name up=
    for ((i = 0; i < wait * 5; i++)); do
        for name in slurmctld slurmd; do
            # Daemon mode: the pid file appears a moment after the fork;
            # one that names a dead process means the daemon exited.
            if [ -s "$state/$name.pid" ] && ! live_pid "$state/$name.pid" $name >/dev/null; then
                sleep 0.2
                live_pid "$state/$name.pid" $name >/dev/null || {
                    show_logs "$state"
                    die "$name exited"
                }
            fi
        done
        if live_pid "$state/slurmctld.pid" slurmctld >/dev/null &&
            live_pid "$state/slurmd.pid" slurmd >/dev/null; then
            st=$(node_state)
            case "$st" in
            idle | mixed | allocated | completing) up=1 && break ;;
            esac
        fi
        sleep 0.2
    done
    if [ -z "$up" ]; then
        sinfo -N -l >&2 || true
        show_logs "$state"
        die "node not idle after ${wait}s (state: ${st:-none})"
    fi
    log "cluster up: node $host $st, $(nproc) CPUs; start took $(elapsed "$t0")s"
    echo "SLURM_CONF=$SLURM_CONF"
}

# ------------------------------------------------------------------------ stop

cmd_stop() {
    need_root
    local state pid i
    [ -n "${1:-}" ] || usage
    if [ ! -d "$1" ]; then
        log "no $1: nothing to stop"
        return 0
    fi
    state=$(state_dir "$1")
    export SLURM_CONF="$state/slurm.conf"
    if live_pid "$state/slurmctld.pid" slurmctld >/dev/null && [ -f "$SLURM_CONF" ]; then
        # Jobs' processes outlive slurmd (no cgroups): cancel them first.
        local jobs
        jobs=$(squeue -h -o %A 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            log "cancelling $(echo "$jobs" | wc -l) job(s)"
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            for ((i = 0; i < 150; i++)); do
                [ -z "$(squeue -h -t R,CG,S -o %A 2>/dev/null)" ] && break
                sleep 0.1
            done
        fi
    fi
    if pid=$(live_pid "$state/slurmd.pid" slurmd); then stop_pid "$pid" slurmd 15; fi
    if pid=$(live_pid "$state/slurmctld.pid" slurmctld); then stop_pid "$pid" slurmctld 15; fi
    if pid=$(live_pid "$state/munged.pid" munged); then stop_pid "$pid" munged 10; fi
    rm -f "$state/munged.pid"
    log "stopped"
}

# ---------------------------------------------------------------------- status

cmd_status() {
    local state name pid rc=0
    state=$(state_dir "${1:-}")
    export SLURM_CONF="$state/slurm.conf"
    for name in slurmctld slurmd munged; do
        if pid=$(live_pid "$state/$name.pid" "$name"); then
            echo "$name: running ($pid)"
        elif [ $name = munged ] && munge_ok; then
            echo "munged: running (not started by this script)"
        else
            echo "$name: not running"
            rc=1
        fi
    done
    echo "SLURM_CONF=$SLURM_CONF"
    if live_pid "$state/slurmctld.pid" slurmctld >/dev/null; then
        sinfo || rc=1
        squeue || rc=1
    fi
    return $rc
}

cmd_env() {
    local state
    state=$(state_dir "${1:-}")
    [ -f "$state/slurm.conf" ] || die "$state/slurm.conf missing: run start first"
    echo "SLURM_CONF=$state/slurm.conf"
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start "${2:-}" ;;
stop) cmd_stop "${2:-}" ;;
status) cmd_status "${2:-}" ;;
env) cmd_env "${2:-}" ;;
*) usage ;;
esac
