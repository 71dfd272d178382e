#!/usr/bin/env bash
# A real SLURM run, not a mock: install SLURM from Debian's packages if absent, start a one-node cluster on
# localhost, run the tiny workflow of tests/test_workflow.py once locally and once through
# `--workflow-profile profiles/slurm` (snakemake-executor-plugin-slurm), check that every job went through SLURM
# and that the outputs match, and stop the daemons again (also on failure).
#
#   bash tests/slurm/run_slurm_test.sh            # .ci/run calls it after `make test`
#   PYTHON=.venv/bin/python KEEP=1 bash tests/slurm/run_slurm_test.sh   # KEEP=1 leaves the work folder
#
# Needs root (or password-less sudo) for apt-get and the daemons. The cluster uses ports 16817/16818 and keeps its
# state under $SLURM_TEST_STATE; its config goes to /etc/slurm/slurm.conf (inside a job the plugin clears SLURM_*
# variables, SLURM_CONF included, so srun reads the default path), and a config found there is put back at the end.
# Recipe and pitfalls: ../shared/recipes/slurm-localhost.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY="${PYTHON:-python3}"
STATE="${SLURM_TEST_STATE:-/tmp/seqedit-slurm}"
WORK="${SLURM_TEST_WORK:-$(mktemp -d /tmp/seqedit-slurm-work.XXXXXX)}"
HOST="$(hostname -s)"
t_start=$(date +%s)
say() { echo "[slurm-test $(( $(date +%s) - t_start ))s] $*"; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
        echo "run_slurm_test.sh: needs root or password-less sudo (apt-get, slurmctld, slurmd, munged)" >&2; exit 1
    fi
fi

# --- install ------------------------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
        || ! command -v munged >/dev/null; then
    say "installing slurmctld slurmd slurm-client munge (Debian packages)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi
"$PY" -c "import snakemake_executor_plugin_slurm" 2>/dev/null || {
    echo "run_slurm_test.sh: $PY lacks snakemake-executor-plugin-slurm (pip install -r requirements.txt)" >&2; exit 1; }
say "slurm $(slurmctld -V | awk '{print $2}'), plugin $("$PY" -c 'import importlib.metadata as m; print(m.version("snakemake-executor-plugin-slurm"))')"

# --- configure ----------------------------------------------------------------------------------------------
$SUDO rm -rf "$STATE"
$SUDO mkdir -p "$STATE"/{state,spool,log}
$SUDO chown slurm:slurm "$STATE" "$STATE/state" "$STATE/log"
CPUS="$(nproc)"
MEM_MB="$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)"
SLURM_CONF=/etc/slurm/slurm.conf
$SUDO mkdir -p /etc/slurm
if [ -f "$SLURM_CONF" ] && ! grep -q "written by seqedit tests/slurm" "$SLURM_CONF"; then
    $SUDO cp -p "$SLURM_CONF" "$STATE/slurm.conf.orig"
fi
$SUDO tee "$SLURM_CONF" >/dev/null <<EOF
# written by seqedit tests/slurm/run_slurm_test.sh (a one-node test cluster; removed again when it stops)
ClusterName=seqedit-test
SlurmctldHost=$HOST
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# no slurmdbd: a job completion file is the record of what ran (checked below)
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# squeue must still know a finished job at the next status check (the plugin polls squeue, see profiles/slurm)
MinJobAge=300
DefMemPerCPU=1000
NodeName=$HOST CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

# --- start (and stop on exit) -------------------------------------------------------------------------------
STARTED_MUNGE=0
stop_daemons() {
    local rc=$?
    set +e
    command -v scancel >/dev/null && scancel --user="$(id -un)" >/dev/null 2>&1
    for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
        [ -s "$pidfile" ] && $SUDO kill "$(cat "$pidfile")" 2>/dev/null
    done
    if [ "$STARTED_MUNGE" = 1 ] && [ -s /run/munge/munged.pid ]; then $SUDO kill "$(cat /run/munge/munged.pid)"; fi
    sleep 1
    if [ -f "$STATE/slurm.conf.orig" ]; then $SUDO cp -p "$STATE/slurm.conf.orig" "$SLURM_CONF"
    elif grep -q "written by seqedit tests/slurm" "$SLURM_CONF" 2>/dev/null; then $SUDO rm -f "$SLURM_CONF"; fi
    say "daemons stopped (exit $rc)"
    if [ "$rc" != 0 ]; then
        for f in "$STATE"/log/slurmctld.log "$STATE"/log/slurmd.log; do
            [ -f "$f" ] && { echo "--- tail of $f"; tail -n 20 "$f"; }
        done
    fi
    [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ] || rm -rf "$WORK"
    if [ "$rc" = 0 ]; then echo "slurm-test: 1 passed, 0 failed"; else echo "slurm-test: 0 passed, 1 failed"; fi
    return $rc
}
trap stop_daemons EXIT

if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    [ -f /etc/munge/munge.key ] || $SUDO su -s /bin/sh munge -c "/usr/sbin/mungekey --create"
    $SUDO mkdir -p /run/munge && $SUDO chown munge:munge /run/munge
    $SUDO su -s /bin/sh munge -c /usr/sbin/munged
    STARTED_MUNGE=1
fi
$SUDO /usr/sbin/slurmctld
$SUDO /usr/sbin/slurmd
for _ in $(seq 60); do
    state="$(sinfo -h -o %T 2>/dev/null || true)"
    [ "$state" = idle ] && break
    sleep 1
done
[ "$state" = idle ] || { echo "run_slurm_test.sh: node not idle after 60 s (sinfo: '$state')" >&2; exit 1; }
say "cluster up: $(sinfo -h -o '%P %D %c CPUs %m MB %T')"

# --- the workflow, locally and through SLURM, compared ------------------------------------------------------
cd "$ROOT"
"$PY" tests/slurm/slurm_e2e.py --work "$WORK" --jobcomp "$STATE/log/jobcomp.txt" --partition debug
say "SLURM test passed (work folder $WORK)"
