#!/usr/bin/env bash
# Benchmark of the packaged service: bench/run.sh [N]   (N connections for the refresh sweep, default 10000)
#
# Starts an embedded PostgreSQL (or uses BENCH_DB_URL) and the HubSpot simulator (no added latency) in a helper
# JVM (dev.tokenvault.bench.BenchSupport, test sources), starts target/quarkus-app/quarkus-run.jar (prod profile,
# local key file), seeds N connections through the real OAuth install flow, drives load with wrk from a separate
# process and prints one name=value line per figure on stdout; the same lines go to bench/results/latest.txt.
# Progress goes to stderr. Method and results: docs/performance.md.
#
# Environment (all optional):
#   BENCH_DB_URL=postgresql://host:port/db   use this (empty, throwaway) database instead of an embedded one,
#   BENCH_DB_USER / BENCH_DB_PASSWORD         with these credentials (default postgres/postgres)
#   BENCH_DURATION=20      seconds of each measured wrk run       BENCH_WARMUP=10   seconds of each warm-up run
#   BENCH_CONNECTIONS=64   wrk connections                        BENCH_THREADS=nproc  wrk threads
#   BENCH_REFRESH_CONCURRENCY=16  tokenvault.refresh.max-concurrency (the service default)
#   BENCH_SEED_THREADS=32  concurrent installs while seeding      BENCH_SWEEP_TIMEOUT=900  seconds
#   BENCH_PAIRS=5          interleaved whoami/hand-out pairs: handout_vs_whoami is the median ratio (_min/_max: spread)
#   BENCH_JAVA_OPTS=...    JVM options of the service. Default: what the Helm chart's JVM flavour gives the JVM
#                          (-XX:+UseParallelGC, heap = 25 % of the 512Mi limit = -Xmx128m, MALLOC_ARENA_MAX=2).
#                          "ergonomics" runs with no options at all (heap = 1/4 of the machine's RAM). With
#                          -XX:NativeMemoryTracking=summary the non-heap breakdown is printed (nmt_*_mb)
#   BENCH_SKIP_BUILD=1     never build (the jar, test classes and target/bench-classpath.txt must exist)
#   BENCH_KEEP=1           keep the work directory (service logs, wrk outputs, metrics) and print its path
# HubSpot API proxy against the simulator (after the figures above, same service):
#   BENCH_PROXY=1          0 skips it                               BENCH_PROXY_PAIRS=$BENCH_PAIRS  interleaved proxy/direct pairs
#   BENCH_PROXY_DURATION=$BENCH_DURATION  seconds of each measured run  BENCH_PROXY_C1_SECONDS=5  one-connection runs
#   BENCH_PROXY_BUDGET_CALLS=10000 / BENCH_PROXY_BUDGET_INTERVAL_MS=100  the app's rate budget for this phase (and
#                          the simulator's rolling window, set to the same shape): far above what the box can send
# The storm (3 replicas of the packaged service, one portal, its default budget):
#   BENCH_STORM=1          0 skips it                               BENCH_STORM_SECONDS=30
#   BENCH_STORM_REPLICAS=3 BENCH_STORM_CALLERS=60 (one wrk thread and connection each, spread over the replicas)
#   BENCH_STORM_FACTOR=10  the callers together ask for FACTOR x the budget (each on a fixed cadence)
#   BENCH_STORM_BUDGET=100 / BENCH_STORM_INTERVAL_MS=10000  the budget (the service default: set only when changed)
#                          and the simulator's rolling window (HubSpot's for OAuth apps)
#   BENCH_STORM_TIMEOUT=15 wrk --timeout, above tokenvault.proxy.max-wait (10 s)
#   BENCH_STORM_WARMUP=5   seconds of proxied calls per replica on another portal before the storm
#   BENCH_STORM_JAVA_OPTS=$BENCH_JAVA_OPTS  JVM options of each replica
set -euo pipefail

SCALE=0
if [[ "${1:-}" == scale ]]; then
  # the scale run: N = BENCH_SCALE_SIZES with each of BENCH_SCALE_PROVIDERS (bench/scale.sh)
  SCALE=1
  set -- "$(echo "${BENCH_SCALE_SIZES:-1000 10000 100000}" | tr ' ' '\n' | sort -n | tail -1)"
fi
N="${1:-10000}"
[[ "$N" =~ ^[0-9]+$ && "$N" -ge 8 ]] || { echo "usage: bench/run.sh [N >= 8] | bench/run.sh scale" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-20}"
WARMUP="${BENCH_WARMUP:-10}"
CONNS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-$(nproc)}"
REFRESH_CONCURRENCY="${BENCH_REFRESH_CONCURRENCY:-16}"
SEED_THREADS="${BENCH_SEED_THREADS:-32}"
SWEEP_TIMEOUT="${BENCH_SWEEP_TIMEOUT:-900}"
FIRST_PORTAL=1000001
JAVA_OPTS="${BENCH_JAVA_OPTS:--XX:+UseParallelGC -Xmx128m}"
[[ "$JAVA_OPTS" == ergonomics ]] && JAVA_OPTS=""
STORM_JAVA_OPTS="${BENCH_STORM_JAVA_OPTS:-$JAVA_OPTS}"
[[ "$STORM_JAVA_OPTS" == ergonomics ]] && STORM_JAVA_OPTS=""
PROXY="${BENCH_PROXY:-1}"
PAIRS="${BENCH_PAIRS:-5}"
PROXY_PAIRS="${BENCH_PROXY_PAIRS:-$PAIRS}"
PROXY_DURATION="${BENCH_PROXY_DURATION:-$DURATION}"
PROXY_C1_SECONDS="${BENCH_PROXY_C1_SECONDS:-5}"
PROXY_BUDGET_CALLS="${BENCH_PROXY_BUDGET_CALLS:-10000}"
PROXY_BUDGET_INTERVAL_MS="${BENCH_PROXY_BUDGET_INTERVAL_MS:-100}"
STORM="${BENCH_STORM:-1}"
STORM_SECONDS="${BENCH_STORM_SECONDS:-30}"
STORM_REPLICAS="${BENCH_STORM_REPLICAS:-3}"
STORM_CALLERS="${BENCH_STORM_CALLERS:-60}"
STORM_FACTOR="${BENCH_STORM_FACTOR:-10}"
STORM_BUDGET="${BENCH_STORM_BUDGET:-100}"
STORM_INTERVAL_MS="${BENCH_STORM_INTERVAL_MS:-10000}"
STORM_TIMEOUT="${BENCH_STORM_TIMEOUT:-15}"
STORM_WARMUP="${BENCH_STORM_WARMUP:-5}"
PROXY_PORTAL=$((FIRST_PORTAL + 2)) # never handed out by the phases above: its own budget row and simulator window
STORM_PORTAL=$((FIRST_PORTAL + 3))
for v in PAIRS PROXY_PAIRS PROXY_DURATION PROXY_C1_SECONDS PROXY_BUDGET_CALLS PROXY_BUDGET_INTERVAL_MS STORM_SECONDS \
  STORM_REPLICAS STORM_CALLERS STORM_FACTOR STORM_BUDGET STORM_INTERVAL_MS STORM_TIMEOUT STORM_WARMUP; do
  [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -ge 1 ]] || { echo "BENCH_$v must be a positive integer" >&2; exit 2; }
done
((STORM_CALLERS >= STORM_REPLICAS)) || { echo "BENCH_STORM_CALLERS must be >= BENCH_STORM_REPLICAS" >&2; exit 2; }
JAR="target/quarkus-app/quarkus-run.jar"
CP_FILE="target/bench-classpath.txt"
RESULTS="$ROOT/bench/results"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tokenvault-bench.XXXXXX")"
FIGURES="$WORK/figures.txt"
: >"$FIGURES"
INFRA_PID=""
SERVICE_PID=""
REPLICA_PIDS=()

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
fig() { printf '%s=%s\n' "$1" "$2" | tee -a "$FIGURES"; }
emit_file() { # name=value lines of a helper's output become figures
  local line
  while IFS= read -r line; do
    [[ "$line" == *=* ]] && fig "${line%%=*}" "${line#*=}"
  done <"$1"
  return 0
}
calc() { awk "BEGIN { printf $1 }"; } # calc '"%.1f", 1/3'  -> 0.3
alive() { [[ -n "$1" && -e "/proc/$1" ]] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }

stop_pid() { # pid, seconds to wait after TERM
  local pid="$1" i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < $2 * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  log "process $pid did not stop in $2 s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n "$SERVICE_PID" ]] && stop_pid "$SERVICE_PID" 30
  local p
  for p in "${REPLICA_PIDS[@]}"; do stop_pid "$p" 30; done
  [[ -n "${STORM_WRK_PID:-}" ]] && stop_pid "$STORM_WRK_PID" 5
  [[ -n "$INFRA_PID" ]] && stop_pid "$INFRA_PID" 30 # its shutdown hook stops PostgreSQL
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---- tools ------------------------------------------------------------------------------------------------------
ensure_tool() { # command, Debian package
  command -v "$1" >/dev/null 2>&1 && return 0
  log "$1 not found: installing the Debian package $2"
  local sudo=""
  [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
  $sudo apt-get install -y "$2" >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y "$2" >&2; } ||
    die "cannot install $2 (apt-get install -y $2)"
}
command -v "$JAVA" >/dev/null 2>&1 || die "no java on PATH (JDK 17+ needed)"
ensure_tool wrk wrk
ensure_tool curl curl

# ---- build if needed ----------------------------------------------------------------------------------------------
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  if [[ ! -f "$JAR" || ! -f target/test-classes/dev/tokenvault/bench/BenchSupport.class ]] ||
    [[ -n "$(find src pom.xml -newer "$JAR" -type f -print -quit)" ]]; then
    log "building: ./mvnw -B -q package -DskipTests"
    ./mvnw -B -q package -DskipTests >&2 || die "build failed"
  fi
  if [[ ! -s "$CP_FILE" || pom.xml -nt "$CP_FILE" ]]; then
    log "resolving the test class path"
    ./mvnw -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE" >&2 ||
      die "dependency:build-classpath failed"
  fi
fi
[[ -f "$JAR" && -s "$CP_FILE" ]] || die "$JAR or $CP_FILE missing (build first or unset BENCH_SKIP_BUILD)"
HELPER_CP="target/classes:target/test-classes:$(cat "$CP_FILE")"
HELPER=("$JAVA" -XX:+UseSerialGC -Djava.util.logging.manager=org.jboss.logmanager.LogManager -cp "$HELPER_CP"
  dev.tokenvault.bench.BenchSupport)
helper() { "${HELPER[@]}" "$@"; }

# ---- machine ------------------------------------------------------------------------------------------------------
fig n "$N"
fig date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
fig commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src pom.xml 2>/dev/null || echo +dirty)"
fig machine_nproc "$(nproc)"
fig machine_cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
fig machine_ram_mb "$(awk '/^MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
fig machine_load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
fig jdk "$("$JAVA" -version 2>&1 | head -1 | sed 's/"//g')"
fig java_opts "${JAVA_OPTS:-none (ergonomics)}"
fig wrk "$(wrk --version 2>&1 | head -1 | awk '{ print $1, $2 }')"

# ---- PostgreSQL + fake HubSpot + keys -------------------------------------------------------------------------------
log "starting PostgreSQL and the fake HubSpot (work dir $WORK)"
"${HELPER[@]}" infra "$WORK" "$$" >"$WORK/infra.log" 2>&1 & # the JVM itself (not a subshell): $! is its pid
INFRA_PID=$!
for ((i = 0; i < 3000; i++)); do
  [[ -f "$WORK/infra.env" ]] && break
  alive "$INFRA_PID" || { cat "$WORK/infra.log" >&2; die "the helper (PostgreSQL / fake HubSpot) did not start"; }
  sleep 0.1
done
[[ -f "$WORK/infra.env" ]] || die "the helper did not come up in 300 s"
# shellcheck disable=SC1091
source "$WORK/infra.env"
fig db "$DB_KIND PostgreSQL $DB_VERSION"
BASE="http://127.0.0.1:$SERVICE_PORT"
JWT="$(cat "$JWT_FILE")"

helper count "$DB_JDBC_URL" "$DB_USER" "$DB_PASSWORD" >"$WORK/count.out" || die "cannot reach the database"
grep -q '^connections=0$' "$WORK/count.out" ||
  die "the database already holds connections ($(cat "$WORK/count.out")): BENCH_DB_URL must name an empty database"

# ---- the service ----------------------------------------------------------------------------------------------------
launch_service() { # log file, port, [NAME=value ...: more environment]; sets LAUNCHED_PID (a plain java process)
  local log="$1" port="$2"
  shift 2
  MGMT_PORT[$port]="$(free_port)"
  env QUARKUS_HTTP_HOST=127.0.0.1 QUARKUS_HTTP_PORT="$port" \
    QUARKUS_MANAGEMENT_HOST=127.0.0.1 QUARKUS_MANAGEMENT_PORT="${MGMT_PORT[$port]}" \
    QUARKUS_DATASOURCE_REACTIVE_URL="$DB_REACTIVE_URL" QUARKUS_DATASOURCE_JDBC_URL="$DB_JDBC_URL" \
    QUARKUS_DATASOURCE_USERNAME="$DB_USER" QUARKUS_DATASOURCE_PASSWORD="$DB_PASSWORD" \
    TOKENVAULT_CRYPTO_LOCAL_KEY_FILE="$KEK_FILE" \
    MP_JWT_VERIFY_PUBLICKEY_LOCATION="$JWT_PUBLIC_KEY" MP_JWT_VERIFY_ISSUER="$JWT_ISSUER" \
    TOKENVAULT_HUBSPOT_API_BASE_URL="$HUBSPOT_URL" TOKENVAULT_HUBSPOT_AUTHORIZE_URL="$HUBSPOT_URL/oauth/authorize" \
    TOKENVAULT_PUBLIC_BASE_URL="$PUBLIC_BASE_URL" \
    TOKENVAULT_APPS_DEFAULT_CLIENT_ID="$CLIENT_ID" TOKENVAULT_APPS_DEFAULT_CLIENT_SECRET="$CLIENT_SECRET" \
    TOKENVAULT_REFRESH_MAX_CONCURRENCY="$REFRESH_CONCURRENCY" \
    MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" "$@" >"$log" 2>&1 &
  LAUNCHED_PID=$!
}

# Health and metrics are on Quarkus' management interface: each process gets a free port of its own for it
# (MGMT_PORT[<http port>], chosen by launch_service; port 0 is not an option: Micrometer's HTTP binder then fails to
# register the second server's meters and the management interface never listens).
declare -A MGMT_PORT
free_port() { # a TCP port nothing listens on now
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

wait_ready() { # log file, port, pid, what; sets STARTUP_MS (since T0_MS)
  local i
  for ((i = 0; i < 6000; i++)); do
    if curl -fs -o /dev/null "http://127.0.0.1:${MGMT_PORT[$2]}/q/health/ready"; then
      STARTUP_MS=$(($(date +%s%3N) - T0_MS))
      return 0
    fi
    alive "$3" || { tail -40 "$1" >&2; die "$4 exited during start-up (log above)"; }
    sleep 0.02
  done
  tail -40 "$1" >&2
  die "$4 was not ready after 120 s"
}

start_service() { # log file; sets SERVICE_PID and STARTUP_MS
  T0_MS=$(date +%s%3N)
  # the proxy phase's budget (far above what this box can send: the budget must not be what it measures); nothing
  # else uses a budget
  # seeding runs 32 browsers at once: above the per-replica limit of install callbacks per second (20), which would
  # answer most of them 503 "too many installs at once"
  launch_service "$1" "$SERVICE_PORT" TOKENVAULT_REFRESH_POLL_INTERVAL=1S TOKENVAULT_OAUTH_CALLBACKS_PER_SECOND=100000 \
    TOKENVAULT_APPS_DEFAULT_RATE_LIMIT_CALLS="$PROXY_BUDGET_CALLS" \
    TOKENVAULT_APPS_DEFAULT_RATE_LIMIT_INTERVAL="${PROXY_BUDGET_INTERVAL_MS}ms" \
    "$JAVA" $JAVA_OPTS -jar "$JAR"
  SERVICE_PID=$LAUNCHED_PID
  wait_ready "$1" "$SERVICE_PORT" "$SERVICE_PID" "the service"
}

# ---- CPU accounting (percent of one core, like top): where each measured interval's CPU went --------------------------
TICK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
NPROC="$(nproc)"
proc_ticks() { # utime + stime of one process, 0 if none
  if [[ -n "${1:-}" && -r "/proc/$1/stat" ]]; then sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; else echo 0; fi
}
db_ticks() { # the embedded postmaster and its children (backends); 0 for a given database
  local t=0 c
  [[ -n "${DB_PID:-}" && -r "/proc/$DB_PID/stat" ]] || { echo 0; return; }
  for c in "$DB_PID" $(cat "/proc/$DB_PID/task/$DB_PID/children" 2>/dev/null); do t=$((t + $(proc_ticks "$c"))); done
  echo "$t"
}
cpu_snapshot() { # wall_ns service db helper(fake HubSpot) machine_busy machine_total
  local busy total
  read -r busy total < <(awk '/^cpu / { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6 }' /proc/stat)
  echo "$(date +%s%N) $(proc_ticks "$SERVICE_PID") $(db_ticks) $(proc_ticks "$INFRA_PID") $busy $total"
}
cpu_between() { # before after [client cpu seconds]; sets CPU_service CPU_db CPU_fake CPU_client CPU_other
  local w0 s0 d0 i0 b0 t0 w1 s1 d1 i1 b1 t1
  read -r w0 s0 d0 i0 b0 t0 <<<"$1"
  read -r w1 s1 d1 i1 b1 t1 <<<"$2"
  local wall
  wall=$(calc "\"%.6f\", ($w1 - $w0) / 1e9")
  CPU_service=$(calc "\"%.0f\", ($s1 - $s0) / $TICK / $wall * 100")
  CPU_db=$(calc "\"%.0f\", ($d1 - $d0) / $TICK / $wall * 100")
  CPU_fake=$(calc "\"%.0f\", ($i1 - $i0) / $TICK / $wall * 100")
  CPU_client=$(calc "\"%.0f\", ${3:-0} / $wall * 100")
  CPU_other=$(calc "\"%.0f\", ($b1 - $b0) / ($t1 - $t0 + 0.000001) * $NPROC * 100 - $CPU_service - $CPU_db - $CPU_fake - $CPU_client")
}
cpu_text() { echo "CPU % of a core: service $CPU_service, db $CPU_db, fake HubSpot $CPU_fake, client $CPU_client, other $CPU_other"; }
cpu_figures() { # prefix
  fig "${1}_cpu_service_pct" "$CPU_service"
  [[ -n "${DB_PID:-}" ]] && fig "${1}_cpu_db_pct" "$CPU_db" # not measured for a given (possibly remote) database
  [[ "$CPU_fake" != 0 ]] && fig "${1}_cpu_fake_hubspot_pct" "$CPU_fake"
  [[ "$CPU_client" != 0 ]] && fig "${1}_cpu_client_pct" "$CPU_client"
  fig "${1}_cpu_other_pct" "$CPU_other"
}

stop_service() {
  stop_pid "$SERVICE_PID" 30
  SERVICE_PID=""
}

cat >"$WORK/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local s = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f mean_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, s, (summary.requests - e.status) / s, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000, latency.max / 1000, e.status,
    e.connect + e.read + e.write + e.timeout))
end
EOF

HANDOUT_URL="$BASE/v1/apps/default/portals/$FIRST_PORTAL/token"
WHOAMI_URL="$BASE/v1/whoami"

run_wrk() { # label url connections seconds [delay_ms]; sets W_* variables
  local label="$1" url="$2" c="$3" d="$4" delay="${5:-}" script="$WORK/report.lua" t="$THREADS"
  if [[ -n "$delay" ]]; then
    script="$WORK/report-delay-$delay.lua"
    { cat "$WORK/report.lua"; echo "delay = function() return $delay end"; } >"$script"
  fi
  ((t > c)) && t="$c"
  local before after TIMEFORMAT='%3U %3S' wrk_user wrk_sys
  before="$(cpu_snapshot)"
  if ! { time wrk -t"$t" -c"$c" -d"${d}s" --timeout 10s -s "$script" -H "Authorization: Bearer ${WRK_BEARER:-$JWT}" "$url" \
    >"$WORK/wrk-$label.txt" 2>&1; } 2>"$WORK/wrk-$label.time"; then
    cat "$WORK/wrk-$label.txt" >&2
    die "wrk failed ($label)"
  fi
  after="$(cpu_snapshot)"
  read -r wrk_user wrk_sys <"$WORK/wrk-$label.time"
  cpu_between "$before" "$after" "$(calc "\"%.3f\", $wrk_user + $wrk_sys")"
  local line kv
  line="$(grep '^WRK ' "$WORK/wrk-$label.txt")" || { cat "$WORK/wrk-$label.txt" >&2; die "no wrk summary ($label)"; }
  for kv in ${line#WRK }; do
    printf -v "W_${kv%%=*}" '%s' "${kv#*=}"
  done
  log "  $label: $W_rps req/s, p50 $W_p50_ms ms, p99 $W_p99_ms ms, non-2xx $W_non2xx, socket errors $W_socket_errors"
  log "    $(cpu_text) (client = wrk)"
  if ((W_non2xx > 0 || W_socket_errors > 0)); then
    log "  WARNING: $label had $W_non2xx non-2xx answers and $W_socket_errors socket errors"
    ERRORS_SEEN=$((${ERRORS_SEEN:-0} + W_non2xx + W_socket_errors))
  fi
}

drain_audit() { helper drain-audit "$DB_JDBC_URL" "$DB_USER" "$DB_PASSWORD" 300 >"$WORK/drain-$1.out"; }
metric() { awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { printf "%.0f", s }' "${2:-$WORK/metrics.txt}"; }
metric_mb() { awk -v m="$1" 'index($0, m) == 1 && $NF > 0 { s += $NF } END { printf "%d", s / 1048576 }' "${2:-$WORK/metrics.txt}"; }
ctl() { curl -fsS "$CONTROL_URL/$1"; } # the simulator's control server in the helper JVM (loopback)
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { printf "%s", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
minimum() { printf '%s\n' "$@" | sort -g | head -1; }
maximum() { printf '%s\n' "$@" | sort -g | tail -1; }
kv() { sed -n "s/^$1=//p" "$2" | head -1; } # value of name=value in a file
percentile() { # p file-of-numbers: nearest rank; "unmeasured" when empty
  sort -g "$2" | awk -v p="$1" '{ a[NR] = $1 } END { if (NR == 0) { printf "unmeasured"; exit }
    i = int(p / 100 * NR); if (i < p / 100 * NR) i++; if (i < 1) i = 1; printf "%.1f", a[i] }'
}

# ---- the scale run (bench/run.sh scale): its own phases, then the end of the script ------------------------------
if [[ "$SCALE" == 1 ]]; then
  # shellcheck source=bench/scale.sh
  source "$ROOT/bench/scale.sh"
  scale_run
  mkdir -p "$RESULTS"
  cp "$FIGURES" "$RESULTS/scale-latest.txt"
  "$JAVA" -Djava.awt.headless=true -cp "$HELPER_CP" dev.tokenvault.bench.ScalePlot "$FIGURES" "$RESULTS/scale-latest.png" ||
    log "WARNING: the plot could not be drawn"
  log "done: $RESULTS/scale-latest.txt, $RESULTS/scale-latest.png"
  exit 0
fi


log "starting the service (empty database: Flyway migrates)"
start_service "$WORK/service-1.log"
fig startup_ms "$STARTUP_MS"
log "  ready after $STARTUP_MS ms"

# ---- seed N connections through the real install flow ---------------------------------------------------------------
log "seeding $N connections ($SEED_THREADS concurrent installs)"
helper seed "$BASE" "$HUBSPOT_URL" "$FIRST_PORTAL" "$N" "$SEED_THREADS" >"$WORK/seed.out" ||
  { cat "$WORK/seed.out" >&2; die "seeding failed"; }
emit_file "$WORK/seed.out"

# ---- restart: empty token and data-key caches, N rows in the database -------------------------------------------------
log "restarting the service (caches empty)"
stop_service
start_service "$WORK/service-2.log"
fig startup_restart_ms "$STARTUP_MS"
log "  ready after $STARTUP_MS ms"

log "warm-up: whoami and one cached hand-out, ${WARMUP}s each"
run_wrk warmup-whoami "$WHOAMI_URL" "$CONNS" "$WARMUP"
run_wrk warmup-handout "$HANDOUT_URL" "$CONNS" "$WARMUP"
drain_audit warmup

# ---- cold hand-outs: each portal asked once (token cache and data-key cache miss) ------------------------------------
COLD=$((N / 4 < 2000 ? N / 4 : 2000))
WARM_MISSES=$((N - COLD - 1))
log "cold hand-outs: $WARM_MISSES misses to warm the JIT, then $COLD measured (sequential, one connection)"
helper latency "$BASE" "$JWT_FILE" $((FIRST_PORTAL + 1)) "$WARM_MISSES" distinct cold_warmup >"$WORK/cold-warmup.out" ||
  die "cold warm-up failed"
helper latency "$BASE" "$JWT_FILE" $((FIRST_PORTAL + N - COLD)) "$COLD" distinct cold_handout >"$WORK/cold.out" ||
  die "cold hand-outs failed"
helper latency "$BASE" "$JWT_FILE" "$FIRST_PORTAL" "$COLD" same seq_cached_handout >"$WORK/seq.out" ||
  die "sequential cached hand-outs failed"
emit_file "$WORK/cold.out"
emit_file "$WORK/seq.out"
drain_audit cold

# ---- cached hand-out vs whoami: same JWT, same connections, PAIRS interleaved pairs, the median pair ------------------
log "throughput: whoami and cached hand-out, ${DURATION}s each, $CONNS connections, $THREADS wrk threads, $PAIRS interleaved pairs"
H_RPS=() W_RPS=() PAIR_RATIOS=() PAIR_CPU=()
for ((r = 1; r <= PAIRS; r++)); do
  run_wrk "whoami-$r" "$WHOAMI_URL" "$CONNS" "$DURATION"
  W_RPS+=("$W_rps")
  WCPU="$CPU_service $CPU_db $CPU_fake $CPU_client $CPU_other"
  fig "whoami_rps_run$r" "$W_rps"
  run_wrk "handout-$r" "$HANDOUT_URL" "$CONNS" "$DURATION"
  H_RPS+=("$W_rps")
  fig "handout_rps_run$r" "$W_rps"
  PAIR_RATIOS+=("$(calc "\"%.3f\", ${H_RPS[-1]} / ${W_RPS[-1]}")")
  fig "handout_vs_whoami_run$r" "${PAIR_RATIOS[-1]}"
  # per pair: hand-out rate, p50, p99, its CPU split, whoami's rate and CPU split (for the median pair's figures)
  PAIR_CPU+=("${H_RPS[-1]} $W_p50_ms $W_p99_ms $CPU_service $CPU_db $CPU_fake $CPU_client $CPU_other ${W_RPS[-1]} $WCPU")
  drain_audit "handout-$r"
  LAST_DRAIN="$WORK/drain-handout-$r.out"
done
RATIO="$(median "${PAIR_RATIOS[@]}")"
# the pair whose ratio is the median (with an even count, the lower of the two middle ones) gives the CPU figures
MEDIAN_PAIR=0
for ((r = 0; r < PAIRS; r++)); do
  [[ "${PAIR_RATIOS[r]}" == "$(printf '%s\n' "${PAIR_RATIOS[@]}" | sort -g | sed -n "$(((PAIRS + 1) / 2))p")" ]] && { MEDIAN_PAIR=$r; break; }
done
read -r BEST_H H_P50 H_P99 H_SVC H_DB H_FAKE H_CLIENT H_OTHER BEST_W W_SVC W_DB W_FAKE W_CLIENT W_OTHER <<<"${PAIR_CPU[MEDIAN_PAIR]}"
fig handout_rps "$(median "${H_RPS[@]}")"
fig handout_p50_ms "$H_P50"
fig handout_p99_ms "$H_P99"
fig whoami_rps "$(median "${W_RPS[@]}")"
fig handout_vs_whoami "$RATIO"
fig handout_vs_whoami_min "$(minimum "${PAIR_RATIOS[@]}")"
fig handout_vs_whoami_max "$(maximum "${PAIR_RATIOS[@]}")"
fig handout_vs_whoami_pairs "$PAIRS"
CPU_service=$H_SVC CPU_db=$H_DB CPU_fake=$H_FAKE CPU_client=$H_CLIENT CPU_other=$H_OTHER
cpu_figures handout
H_COST=$(calc "\"%.1f\", ($CPU_service + $CPU_db + $CPU_client) * 10000 / $BEST_H") # µs of CPU per request
fig handout_service_cpu_us "$(calc "\"%.1f\", $CPU_service * 10000 / $BEST_H")"
[[ -n "${DB_PID:-}" ]] && fig handout_db_cpu_us "$(calc "\"%.1f\", $CPU_db * 10000 / $BEST_H")"
CPU_service=$W_SVC CPU_db=$W_DB CPU_fake=$W_FAKE CPU_client=$W_CLIENT CPU_other=$W_OTHER
cpu_figures whoami
W_COST=$(calc "\"%.1f\", ($CPU_service + $CPU_db + $CPU_client) * 10000 / $BEST_W")
fig whoami_service_cpu_us "$(calc "\"%.1f\", $CPU_service * 10000 / $BEST_W")"
# the ratio the CPU costs imply (service + database + wrk per request) when both runs get the same CPU:
# less sensitive than the measured ratio to other tenants of a shared machine (the median pair's)
fig handout_vs_whoami_by_cpu "$(calc "\"%.3f\", $W_COST / $H_COST")"
emit_file "$LAST_DRAIN" # audit rows written behind the last run, and how long that took

# ---- p99 at half of peak: wrk has no fixed rate (wrk2 is not in Debian); a Lua delay() paces each connection --------
TARGET=$(calc "\"%.0f\", $(median "${H_RPS[@]}") / 2")
DELAY=$(calc "\"%d\", ($CONNS * 1000 / $TARGET - 0.3) < 1 ? 1 : ($CONNS * 1000 / $TARGET - 0.3)")
log "half of peak: target $TARGET req/s; calibrating with $CONNS connections, ${DELAY} ms think time"
run_wrk half-calibrate "$HANDOUT_URL" "$CONNS" 8 "$DELAY"
# per-connection period = think time + service time: pick the connection count that gives the target
C2=$(calc "\"%d\", $TARGET * ($CONNS / $W_rps) + 0.5")
((C2 < 1)) && C2=1
((C2 > 1024)) && C2=1024
drain_audit half-calibrate
run_wrk half-peak "$HANDOUT_URL" "$C2" "$DURATION" "$DELAY"
fig handout_half_peak_target_rps "$TARGET"
fig handout_half_peak_rps "$W_rps"
fig handout_half_peak_connections "$C2"
fig handout_half_peak_p50_ms "$W_p50_ms"
fig handout_half_peak_p99_ms "$W_p99_ms"
drain_audit half-peak

# ---- refresh sweep: N connections due at once --------------------------------------------------------------------------
log "refresh sweep: all $N connections due now (poll interval 1 s, max concurrency $REFRESH_CONCURRENCY)"
fig refresh_max_concurrency "$REFRESH_CONCURRENCY"
BEFORE="$(cpu_snapshot)"
helper sweep "$DB_JDBC_URL" "$DB_USER" "$DB_PASSWORD" "$SWEEP_TIMEOUT" >"$WORK/sweep.out" ||
  log "WARNING: the sweep did not finish (see figures)"
cpu_between "$BEFORE" "$(cpu_snapshot)" 0
emit_file "$WORK/sweep.out"
log "  $(cpu_text) (other includes the polling helper)"
cpu_figures refresh_sweep
sleep 2
fig rss_mb "$(awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$SERVICE_PID/status")"
if [[ "$JAVA_OPTS" == *NativeMemoryTracking* ]] && command -v jcmd >/dev/null 2>&1; then
  # where the memory outside the heap goes (only when the options enable -XX:NativeMemoryTracking=summary)
  jcmd "$SERVICE_PID" VM.native_memory summary scale=MB >"$WORK/nmt.txt" 2>&1 || true
  awk '/^-  *[A-Z][A-Za-z ]*\(reserved=/ { name=$2; for (i=3; i<=NF && $i !~ /^\(reserved/; i++) name=name "_" $i;
       if (match($0, /committed=[0-9]+MB/)) printf "nmt_%s_mb=%s\n", tolower(name), substr($0, RSTART+10, RLENGTH-12) }' \
    "$WORK/nmt.txt" >"$WORK/nmt.out" || true
  emit_file "$WORK/nmt.out"
fi
fig rss_peak_mb "$(awk '/^VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$SERVICE_PID/status")"

# ---- what the service says about itself ------------------------------------------------------------------------------
curl -fs "http://127.0.0.1:${MGMT_PORT[$SERVICE_PORT]}/q/metrics" >"$WORK/metrics.txt" || true
fig heap_used_mb "$(metric_mb 'jvm_memory_used_bytes{area="heap"')"
fig heap_committed_mb "$(metric_mb 'jvm_memory_committed_bytes{area="heap"')"
fig heap_max_mb "$(metric_mb 'jvm_memory_max_bytes{area="heap"')"
fig nonheap_committed_mb "$(metric_mb 'jvm_memory_committed_bytes{area="nonheap"')"
fig gc_pauses "$(metric 'jvm_gc_pause_seconds_count')"
fig gc_pause_total_ms "$(awk '/^jvm_gc_pause_seconds_sum/ { s += $NF } END { printf "%d", s * 1000 }' "$WORK/metrics.txt")"
fig gc_pause_max_recent_ms "$(awk '/^jvm_gc_pause_seconds_max/ && $NF > m { m = $NF } END { printf "%d", m * 1000 }' "$WORK/metrics.txt")"
fig gc_allocated_mb "$(metric_mb 'jvm_gc_memory_allocated_bytes_total')"
HTTP_REQUESTS="$(metric 'http_server_requests_seconds_count')"
fig http_requests_served "$HTTP_REQUESTS"
fig alloc_kb_per_request "$(calc "\"%.0f\", $(metric 'jvm_gc_memory_allocated_bytes_total') / 1024 / ($HTTP_REQUESTS + 1)")"
fig metric_handouts_cache "$(metric 'tokenvault_handouts_total{outcome="cache"')"
fig metric_handouts_store "$(metric 'tokenvault_handouts_total{outcome="store"')"
fig metric_refresh_success "$(metric 'tokenvault_refresh_total{outcome="success"')"
fig metric_refresh_transient "$(metric 'tokenvault_refresh_total{outcome="transient"')"
fig metric_refresh_rejected "$(metric 'tokenvault_refresh_total{outcome="rejected"')"
fig metric_audit_write_failures "$(metric 'tokenvault_audit_write_failures_total')"
helper sizes "$DB_JDBC_URL" "$DB_USER" "$DB_PASSWORD" >"$WORK/sizes.out" && emit_file "$WORK/sizes.out"

# ---- helpers of the proxy phases ---------------------------------------------------------------------------------------
CRM_PATH="/crm/v3/objects/contacts?limit=1"
PROXY_JWT="$(cat "$PROXY_JWT_FILE")"

# ---- HubSpot API proxy against the simulator straight: the same CRM call, same wrk settings, interleaved ---------------
if [[ "$PROXY" == 1 ]]; then
  PROXY_URL="$BASE/v1/apps/default/portals/$PROXY_PORTAL/hubspot$CRM_PATH"
  DIRECT_URL="$HUBSPOT_URL$CRM_PATH"
  # the budget of this phase (the service runs with it) and the simulator's rolling window of the same shape, so that
  # HubSpot's X-HubSpot-RateLimit-* headers agree with the budget and correct nothing
  ctl "rate-limit?max=$PROXY_BUDGET_CALLS&intervalMs=$PROXY_BUDGET_INTERVAL_MS" >/dev/null ||
    die "cannot set the simulator's rate limit"
  ctl "crm-seed?portal=$PROXY_PORTAL&count=10" >/dev/null || die "cannot seed contacts"
  fig proxy_budget "$PROXY_BUDGET_CALLS/${PROXY_BUDGET_INTERVAL_MS}ms"
  fig proxy_call "GET $CRM_PATH"
  # the portal's access token, for the direct calls (read with the hand-out JWT; the proxy's JWT cannot)
  ACCESS_TOKEN="$(curl -fsS -H "Authorization: Bearer $JWT" "$BASE/v1/apps/default/portals/$PROXY_PORTAL/token" |
    sed -n 's/.*"accessToken" *: *"\([^"]*\)".*/\1/p')"
  [[ -n "$ACCESS_TOKEN" ]] || die "no access token for portal $PROXY_PORTAL"
  curl -fsS -o "$WORK/proxy-check.json" -H "Authorization: Bearer $PROXY_JWT" "$PROXY_URL" || die "the proxied call failed"
  curl -fsS -o "$WORK/direct-check.json" -H "Authorization: Bearer $ACCESS_TOKEN" "$DIRECT_URL" || die "the direct call failed"
  cmp -s "$WORK/proxy-check.json" "$WORK/direct-check.json" ||
    log "WARNING: the proxied and the direct answers differ ($WORK/proxy-check.json, $WORK/direct-check.json)"

  log "proxy vs direct: warm-up ${WARMUP}s each, then one connection ${PROXY_C1_SECONDS}s each"
  WRK_BEARER="$PROXY_JWT" run_wrk proxy-warmup "$PROXY_URL" "$CONNS" "$WARMUP"
  WRK_BEARER="$ACCESS_TOKEN" run_wrk direct-warmup "$DIRECT_URL" "$CONNS" "$WARMUP"
  WRK_BEARER="$PROXY_JWT" run_wrk proxy-c1 "$PROXY_URL" 1 "$PROXY_C1_SECONDS"
  P1_P50=$W_p50_ms P1_P99=$W_p99_ms
  WRK_BEARER="$ACCESS_TOKEN" run_wrk direct-c1 "$DIRECT_URL" 1 "$PROXY_C1_SECONDS"
  fig proxy_c1_p50_ms "$P1_P50"
  fig proxy_c1_p99_ms "$P1_P99"
  fig direct_c1_p50_ms "$W_p50_ms"
  fig direct_c1_p99_ms "$W_p99_ms"
  fig proxy_overhead_c1_p50_ms "$(calc "\"%.3f\", $P1_P50 - $W_p50_ms")"

  log "proxy vs direct: ${PROXY_DURATION}s each, $CONNS connections, $THREADS wrk threads, $PROXY_PAIRS interleaved pairs"
  P_RPS=() P_P50=() P_P99=() P_SVC=() P_DB=() P_FAKE=() D_RPS=() D_P50=() D_P99=() D_FAKE=() RATIOS=()
  for ((r = 1; r <= PROXY_PAIRS; r++)); do
    WRK_BEARER="$PROXY_JWT" run_wrk "proxy-$r" "$PROXY_URL" "$CONNS" "$PROXY_DURATION"
    P_RPS+=("$W_rps") P_P50+=("$W_p50_ms") P_P99+=("$W_p99_ms")
    P_SVC+=("$(calc "\"%.1f\", $CPU_service * 10000 / $W_rps")") P_DB+=("$(calc "\"%.1f\", $CPU_db * 10000 / $W_rps")")
    P_FAKE+=("$(calc "\"%.1f\", $CPU_fake * 10000 / $W_rps")")
    fig "proxy_rps_run$r" "$W_rps"
    WRK_BEARER="$ACCESS_TOKEN" run_wrk "direct-$r" "$DIRECT_URL" "$CONNS" "$PROXY_DURATION"
    D_RPS+=("$W_rps") D_P50+=("$W_p50_ms") D_P99+=("$W_p99_ms") D_FAKE+=("$(calc "\"%.1f\", $CPU_fake * 10000 / $W_rps")")
    fig "direct_rps_run$r" "$W_rps"
    RATIOS+=("$(calc "\"%.3f\", ${P_RPS[-1]} / $W_rps")")
    fig "proxy_vs_direct_run$r" "${RATIOS[-1]}"
  done
  drain_audit proxy
  fig proxy_rps "$(median "${P_RPS[@]}")"
  fig proxy_p50_ms "$(median "${P_P50[@]}")"
  fig proxy_p99_ms "$(median "${P_P99[@]}")"
  fig direct_rps "$(median "${D_RPS[@]}")"
  fig direct_p50_ms "$(median "${D_P50[@]}")"
  fig direct_p99_ms "$(median "${D_P99[@]}")"
  fig proxy_vs_direct "$(median "${RATIOS[@]}")"
  fig proxy_vs_direct_min "$(minimum "${RATIOS[@]}")"
  fig proxy_vs_direct_max "$(maximum "${RATIOS[@]}")"
  fig proxy_overhead_p50_ms "$(calc "\"%.3f\", $(median "${P_P50[@]}") - $(median "${D_P50[@]}")")"
  fig proxy_service_cpu_us "$(median "${P_SVC[@]}")" # per proxied call, medians of the runs
  [[ -n "${DB_PID:-}" ]] && fig proxy_db_cpu_us "$(median "${P_DB[@]}")"
  fig proxy_fake_hubspot_cpu_us "$(median "${P_FAKE[@]}")"
  fig direct_fake_hubspot_cpu_us "$(median "${D_FAKE[@]}")"
  curl -fs "http://127.0.0.1:${MGMT_PORT[$SERVICE_PORT]}/q/metrics" >"$WORK/metrics-proxy.txt" || true
  M="$WORK/metrics-proxy.txt"
  WAITS="$(metric 'tokenvault_rate_budget_wait_seconds_count' "$M")"
  fig proxy_metric_ok "$(metric 'tokenvault_proxy_requests_total{outcome="ok"' "$M")"
  fig proxy_metric_rate_limited "$(metric 'tokenvault_proxy_requests_total{outcome="rate_limited"' "$M")"
  fig proxy_budget_wait_mean_ms "$(awk '/^tokenvault_rate_budget_wait_seconds_sum/ { s += $NF } END { printf "%.3f", s * 1000 / ('"$WAITS"' + 1e-9) }' "$M")"
  ctl "crm-stats?portal=$PROXY_PORTAL&budget=$PROXY_BUDGET_CALLS&intervalMs=$PROXY_BUDGET_INTERVAL_MS&fromMs=0&toMs=$(date +%s%3N)" \
    >"$WORK/proxy-crm-stats.out" || die "cannot read the simulator's CRM statistics"
  fig proxy_upstream_429 "$(kv rate_limited "$WORK/proxy-crm-stats.out")"
fi
fig wrk_errors "${ERRORS_SEEN:-0}"
fig service_log_errors "$(cat "$WORK"/service-*.log | grep -c ' ERROR ' || true)"
fig service_log_warnings "$(cat "$WORK"/service-*.log | grep -c ' WARN ' || true)"
if grep -qh -e ' ERROR ' -e ' WARN ' "$WORK"/service-*.log; then
  log "service log warnings/errors (first 10 distinct):"
  grep -h -e ' ERROR ' -e ' WARN ' "$WORK"/service-*.log | sed -E 's/^[0-9: ,.-]+//' | sort | uniq -c |
    sort -rn | head -10 >&2
fi
# ---- the storm: replicas of the packaged service, callers on ONE portal asking for FACTOR x its budget ------------------
if [[ "$STORM" == 1 ]]; then
  read -r -a PORTS <<<"$REPLICA_PORTS"
  ((${#PORTS[@]} >= STORM_REPLICAS)) || die "the helper picked ${#PORTS[@]} replica ports, not $STORM_REPLICAS"
  log "storm: stopping the service; $STORM_REPLICAS replicas, $STORM_CALLERS callers on portal $STORM_PORTAL, budget $STORM_BUDGET per $STORM_INTERVAL_MS ms, ${STORM_FACTOR}x, ${STORM_SECONDS}s"
  stop_service
  # HubSpot's rolling window for OAuth apps (the simulator's), and the budget at the same shape
  ctl "rate-limit?max=$STORM_BUDGET&intervalMs=$STORM_INTERVAL_MS" >/dev/null || die "cannot set the simulator's rate limit"
  ctl "crm-seed?portal=$STORM_PORTAL&count=10" >/dev/null || die "cannot seed contacts"
  BUDGET_ENV=()
  [[ "$STORM_BUDGET" != 100 ]] && BUDGET_ENV+=("TOKENVAULT_APPS_DEFAULT_RATE_LIMIT_CALLS=$STORM_BUDGET")
  [[ "$STORM_INTERVAL_MS" != 10000 ]] && BUDGET_ENV+=("TOKENVAULT_APPS_DEFAULT_RATE_LIMIT_INTERVAL=${STORM_INTERVAL_MS}ms")
  T0_MS=$(date +%s%3N)
  for ((i = 0; i < STORM_REPLICAS; i++)); do
    launch_service "$WORK/replica-$((i + 1)).log" "${PORTS[i]}" ${BUDGET_ENV[@]+"${BUDGET_ENV[@]}"} \
      "$JAVA" $STORM_JAVA_OPTS -jar "$JAR"
    REPLICA_PIDS+=("$LAUNCHED_PID")
  done
  for ((i = 0; i < STORM_REPLICAS; i++)); do
    wait_ready "$WORK/replica-$((i + 1)).log" "${PORTS[i]}" "${REPLICA_PIDS[i]}" "replica $((i + 1))"
  done
  fig storm_replicas_ready_ms "$STARTUP_MS"
  # each replica proxies, then a short warm-up (JIT, its connections to the simulator) on its own other portal: the
  # storm portal's budget and simulator window stay untouched until the storm. Cold replicas on a loaded box deliver
  # the first burst of grants spread over more than the budget's margin (see docs/performance.md).
  for ((i = 0; i < STORM_REPLICAS; i++)); do
    WP=$((FIRST_PORTAL + 4 + i))
    ((WP < FIRST_PORTAL + N)) || WP=$((FIRST_PORTAL + 4))
    curl -fsS -o /dev/null -H "Authorization: Bearer $PROXY_JWT" \
      "http://127.0.0.1:${PORTS[i]}/v1/apps/default/portals/$WP/hubspot$CRM_PATH" ||
      die "replica $((i + 1)) does not proxy"
    wrk -t1 -c4 -d"${STORM_WARMUP}s" --timeout "${STORM_TIMEOUT}s" -H "Authorization: Bearer $PROXY_JWT" \
      "http://127.0.0.1:${PORTS[i]}/v1/apps/default/portals/$WP/hubspot$CRM_PATH" >"$WORK/wrk-storm-warmup-$i.txt" 2>&1 ||
      log "WARNING: the warm-up of replica $((i + 1)) failed"
  done
  sleep 2
  CADENCE_MS=$(calc "\"%.3f\", $STORM_CALLERS * $STORM_INTERVAL_MS / ($STORM_FACTOR * $STORM_BUDGET)")
  LUA_PORTS="$(printf '"%s",' "${PORTS[@]:0:STORM_REPLICAS}")"
  # one wrk thread per caller (one connection each, so that request() and response() pair up and time each call);
  # caller k is sent to replica k mod R and asks on a fixed cadence (at once when its last answer came later), like
  # RateBudgetReplicasTest: together FACTOR x the budget. Successful calls' latencies (the permit wait plus the call)
  # go to a file; 429s are split into the vault's (problem type rate-budget-exhausted) and HubSpot's.
  cat >"$WORK/storm.lua" <<EOF
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } bench_timespec; int clock_gettime(int, bench_timespec *); ]]
local ts = ffi.new("bench_timespec")
local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end
local ports = { $LUA_PORTS }
local cadence = $CADENCE_MS
local callers = $STORM_CALLERS
local threads = {}
local count = 0

function setup(thread)
  thread.addr = wrk.lookup("127.0.0.1", ports[(count % #ports) + 1])[1]
  thread:set("caller", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  next_at = now_ms() + caller * cadence / callers
  ok, vault429, upstream429, other, lat = 0, 0, 0, 0, ""
end

function delay()
  local d = next_at - now_ms()
  next_at = next_at + cadence
  if d < 1 then return 0 end
  return math.floor(d)
end

function request()
  sent_at = now_ms()
  return wrk.format()
end

function response(status, headers, body)
  local ms = now_ms() - sent_at
  if status >= 200 and status < 300 then
    ok = ok + 1
    lat = lat .. string.format("%.1f\n", ms)
  elseif status == 429 and body and string.find(body, "rate-budget-exhausted", 1, true) then
    vault429 = vault429 + 1
  elseif status == 429 then
    upstream429 = upstream429 + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local f = io.open("$WORK/storm-latencies.txt", "w")
  local o, v, u, x = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); v = v + t:get("vault429"); u = u + t:get("upstream429"); x = x + t:get("other")
    f:write(t:get("lat"))
  end
  f:close()
  local e = summary.errors
  io.write(string.format("STORM asked=%d ok=%d vault_429=%d upstream_429=%d other=%d socket_errors=%d\n",
    summary.requests, o, v, u, x, e.connect + e.read + e.write + e.timeout))
end
EOF
  STORM_URL="http://127.0.0.1:${PORTS[0]}/v1/apps/default/portals/$STORM_PORTAL/hubspot$CRM_PATH"
  BEFORE="$(cpu_snapshot)"
  STORM_START_MS=$(date +%s%3N)
  wrk -t"$STORM_CALLERS" -c"$STORM_CALLERS" -d"${STORM_SECONDS}s" --timeout "${STORM_TIMEOUT}s" -s "$WORK/storm.lua" \
    -H "Authorization: Bearer $PROXY_JWT" "$STORM_URL" >"$WORK/wrk-storm.txt" 2>&1 &
  STORM_WRK_PID=$!
  wait "$STORM_WRK_PID" || { cat "$WORK/wrk-storm.txt" >&2; die "wrk failed (storm)"; }
  STORM_WRK_PID=""
  STORM_END_MS=$((STORM_START_MS + STORM_SECONDS * 1000)) # the demand's end: what the saturated part may use
  LINE="$(grep '^STORM ' "$WORK/wrk-storm.txt")" || { cat "$WORK/wrk-storm.txt" >&2; die "no storm summary"; }
  for kv in ${LINE#STORM }; do printf -v "S_${kv%%=*}" '%s' "${kv#*=}"; done
  sleep 1 # calls granted just before the end reach the simulator
  ctl "crm-stats?portal=$STORM_PORTAL&budget=$STORM_BUDGET&intervalMs=$STORM_INTERVAL_MS&fromMs=$STORM_START_MS&toMs=$STORM_END_MS" \
    >"$WORK/storm-crm-stats.out" || die "cannot read the simulator's CRM statistics"
  ctl "crm-stats?portal=$STORM_PORTAL&budget=$STORM_BUDGET&intervalMs=$STORM_INTERVAL_MS&fromMs=0&toMs=$(date +%s%3N)" \
    >"$WORK/storm-crm-all.out" || die "cannot read the simulator's CRM statistics"
  SC="$WORK/storm-crm-stats.out"
  fig storm_seconds "$STORM_SECONDS"
  fig storm_replicas "$STORM_REPLICAS"
  fig storm_callers "$STORM_CALLERS"
  fig storm_budget "$STORM_BUDGET/${STORM_INTERVAL_MS}ms"
  fig storm_asked "$S_asked"
  fig storm_asked_vs_budget "$(calc "\"%.2f\", $S_asked / ($STORM_SECONDS * 1000 / $STORM_INTERVAL_MS) / $STORM_BUDGET")"
  fig storm_ok "$S_ok"
  fig storm_vault_429 "$S_vault_429"
  fig storm_upstream_429_seen "$S_upstream_429" # HubSpot 429s the callers received through the proxy
  fig storm_other_status "$S_other"
  fig storm_socket_errors "$S_socket_errors"
  fig storm_upstream_calls "$(kv calls "$SC")"
  fig storm_upstream_429 "$(kv rate_limited "$WORK/storm-crm-all.out")" # the simulator's count, whole run
  fig storm_upstream_max_per_interval "$(kv max_per_interval "$WORK/storm-crm-all.out")"
  fig storm_place_cycle_ms "$(kv place_cycle_ms "$SC")"
  fig storm_place_cycles "$(kv place_cycles "$SC")"
  fig storm_budget_use "$(kv budget_use "$SC")"
  fig storm_wait_p50_ms "$(percentile 50 "$WORK/storm-latencies.txt")"
  fig storm_wait_p99_ms "$(percentile 99 "$WORK/storm-latencies.txt")"
  fig storm_wait_max_ms "$(percentile 100 "$WORK/storm-latencies.txt")"
  cpu_between "$BEFORE" "$(cpu_snapshot)" 0
  fig storm_cpu_db_pct "$CPU_db"
  fig storm_cpu_other_pct "$CPU_other" # replicas and wrk included: they are not accounted one by one
  : >"$WORK/metrics-storm.txt"
  RSS=()
  for ((i = 0; i < STORM_REPLICAS; i++)); do
    curl -fs "http://127.0.0.1:${MGMT_PORT[${PORTS[i]}]}/q/metrics" >>"$WORK/metrics-storm.txt" || true
    RSS+=("$(awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/${REPLICA_PIDS[i]}/status")")
  done
  M="$WORK/metrics-storm.txt"
  WAITS="$(metric 'tokenvault_rate_budget_wait_seconds_count' "$M")"
  fig storm_metric_granted "$WAITS"
  fig storm_metric_wait_mean_ms "$(awk '/^tokenvault_rate_budget_wait_seconds_sum/ { s += $NF } END { printf "%.1f", s * 1000 / ('"$WAITS"' + 1e-9) }' "$M")"
  fig storm_metric_wait_max_ms "$(awk '/^tokenvault_rate_budget_wait_seconds_max/ && $NF > m { m = $NF } END { printf "%.1f", m * 1000 }' "$M")"
  fig storm_metric_exhausted "$(metric 'tokenvault_rate_budget_exhausted_total' "$M")"
  fig storm_metric_upstream_429 "$(metric 'tokenvault_upstream_429_total' "$M")"
  fig storm_metric_budget_pauses "$(metric 'tokenvault_rate_budget_pauses_total' "$M")"
  fig storm_replica_rss_mb_max "$(maximum "${RSS[@]}")"
  for p in "${REPLICA_PIDS[@]}"; do stop_pid "$p" 30; done
  REPLICA_PIDS=()
  fig storm_replica_log_errors "$(cat "$WORK"/replica-*.log | grep -c ' ERROR ' || true)"
  fig storm_replica_log_warnings "$(cat "$WORK"/replica-*.log | grep -c ' WARN ' || true)"
fi

fig machine_load_after "$(cut -d' ' -f1-3 /proc/loadavg)"

mkdir -p "$RESULTS"
cp "$FIGURES" "$RESULTS/latest.txt"
log "done: $RESULTS/latest.txt"
