#!/bin/sh
# slurm.sh — a real single-node Slurm on this machine (munged, slurmctld and slurmd on
# localhost, on ports of their own, in a temporary folder; started and stopped here), then
# `srun -n 2 accelbench run -w interconnect` and `accelbench merge`: both ranks' rows, one
# run_id named after the Slurm job, and the same cases merged as under mpirun. Exits 77
# (skipped, with the reason) where Slurm or munge is not installed or cannot start.
set -u
EXE=${ACCELBENCH_EXE:?}
skip() { echo "skipped: $*"; exit 77; }
for p in munged slurmctld slurmd srun sinfo; do
  command -v "$p" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
  command -v "$p" >/dev/null 2>&1 || skip "$p is not installed (Debian: slurm-wlm munge)"
done
[ "$(id -u)" = 0 ] || skip "starting slurmd needs root"
T=$(mktemp -d "${ACCELBENCH_TEST_TMP:-/tmp}/slurm-XXXXXX") || skip "no temporary folder"
mkdir -p "$T"
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  sleep 1
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; for f in "$T"/*.log; do echo "== $f"; tail -20 "$f"; done; exit 1; }

# munge with its own key and socket
dd if=/dev/urandom of="$T/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$T/munge.key"
munged --force --foreground --key-file="$T/munge.key" --socket="$T/munge.sock" \
  --pid-file="$T/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munge.seed" >/dev/null 2>&1 &
pids="$pids $!"

host=$(hostname -s)
node=$(slurmd -C 2>/dev/null | head -1)
[ -n "$node" ] || skip "slurmd -C cannot describe this node"
# ports of our own, so no other Slurm on the machine answers
base=$(( 20000 + $$ % 20000 ))
mkdir -p "$T/state" "$T/spool"
cat >"$T/slurm.conf" <<CONF
ClusterName=abtest
SlurmctldHost=$host
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge.sock
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
MpiDefault=pmix
ReturnToService=2
SlurmdTimeout=60
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
$node State=UNKNOWN
PartitionName=abtest Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
export SLURM_CONF="$T/slurm.conf"
slurmctld -D -i >/dev/null 2>&1 &
pids="$pids $!"
slurmd -D >/dev/null 2>&1 &
pids="$pids $!"
up=""
for i in $(seq 1 60); do
  if sinfo -h -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then up=1; break; fi
  sleep 0.5
done
[ -n "$up" ] || { tail -5 "$T/slurmctld.log" "$T/slurmd.log" 2>/dev/null; skip "slurmctld and slurmd did not come up in 30 s"; }

out="$T/out"
# Open MPI's unloaded components keep allocations LeakSanitizer cannot name: no leak checks in
# the ranks (the simulated ranks of test_cluster check the same run and merge code).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
timeout 300 srun -n 2 --overcommit -t 5 "$EXE" run -w interconnect -d cpu --quick --no-ceilings -a bytes=4K \
  --min-time 0.02 --max-time 0.3 -q -o "$out" >"$T/srun.log" 2>&1 || fail "srun exited $?"
"$EXE" merge "$out" >"$T/merge.log" 2>&1 || fail "merge exited $?"
csv="$out/merged/results.csv"
rows=$(($(wc -l <"$csv") - 1))
[ "$rows" = 12 ] || fail "merged $rows rows, expected 12 (6 ops x 2 ranks)"
grep -q ',slurm-[0-9]*\.[0-9]*,' "$csv" || fail "run_id is not slurm-<job>.<step>"
[ "$(cut -d, -f2 "$csv" | sort -u | wc -l)" = 2 ] || fail "ranks disagree on the run_id"
for r in 0 1; do
  grep 'op=memcpy;bytes=4096,ok,' "$csv" | grep -q "rank=$r;" || fail "rank $r has no ok memcpy row"
done
# MPI through Slurm's PMIx: rank 0 measured, rank 1 served (or both say why MPI could not join)
if grep -q 'op=allreduce;bytes=4096,ok,' "$csv"; then
  grep 'op=allreduce;bytes=4096,skipped,' "$csv" | grep -q "served rank 0" || fail "rank 1 did not serve allreduce"
  echo "srun: MPI collectives measured through Slurm"
else
  grep 'op=allreduce' "$csv" | grep -q 'did not join\|needs' || fail "allreduce neither ran nor said why"
  echo "srun: MPI could not join the Slurm job here; the rows say why"
fi
echo "ok: srun -n 2 merged into $rows rows"
