# The scale run of bench/run.sh (sourced by it: `bench/run.sh scale`; uses its helpers, work directory and infra).
#
# For each key provider of BENCH_SCALE_PROVIDERS ("local vault") and each N of BENCH_SCALE_SIZES ("1000 10000 100000"),
# smallest first, the database grows to N connections: they are written straight into PostgreSQL by the helper JVM
# (control /seed-direct: tokens issued by the HubSpot simulator, sealed with the service's own crypto classes, see
# dev.tokenvault.bench.Seeding), not installed through the browser flow. Then, with a fresh service each time:
#   1. every portal but the last COLD handed out once by BENCH_SCALE_SPREAD_THREADS (16) concurrent clients: the rate
#      of cache misses (and the JIT's warm-up);
#   2. cold hand-outs: the last COLD (2000, at most N/4) portals asked once each, sequential, one connection (token
#      cache and data-key cache miss); then the live heap after a full GC with every token cached (jcmd GC.run);
#   3. restart (empty caches, as in steady state: an opened data key lives 10 min, less than the 20 min between two
#      refreshes of a 30-min token), 6 s for the refresher's first poll, a warm-up sweep of the first W = min(N/10,
#      500) portals (the JIT), then the others (N - W) due at once, wait until each is refreshed; RSS after the sweep;
#   4. database bytes of connection + data_key + secret (indexes and TOAST included) per connection.
# Vault is the fake Vault of the helper JVM (FakeVault over HTTP) with BENCH_VAULT_LATENCY_MS (1) added to every call;
# its calls are counted there (control /vault-stats) and by the service (/q/metrics).
#
# Figures (one per N and provider; <p> = local | vault):
#   sweep_per_second_n<N>_<p>, sweep_seconds_n<N>_<p>, cold_handout_p50_ms_n<N>_<p>, cold_handout_p99_ms_n<N>_<p>,
#   spread_handout_per_second_n<N>_<p>, heap_live_mb_n<N>_<p>, rss_mb_n<N>_<p>, db_bytes_per_connection_n<N>_<p>,
#   key_calls_per_refresh_n<N>_<p>, key_calls_per_cold_handout_n<N>_<p> (calls to the key-encryption provider to open
#   data keys, from the service's metrics: tokenvault_data_keys_opened_total{source="provider"} + tokenvault_data_key_
#   batches_total; with local they are in-process AES, with Vault Transit requests), vault_requests_per_refresh_n<N>_vault
#   and vault_requests_per_cold_handout_n<N>_vault (the same, counted at the fake Vault), sweep_cpu_service_pct_n<N>_<p>,
#   sweep_cpu_db_pct_n<N>_<p>, sweep_cpu_helper_pct_n<N>_<p> (fake HubSpot + fake Vault), seed_seconds_n<N>_<p>, and more.
# Knobs: BENCH_SCALE_SIZES, BENCH_SCALE_PROVIDERS, BENCH_SCALE_COLD (2000), BENCH_SCALE_SPREAD_THREADS (16),
#   BENCH_SCALE_SERVICE_ENV (extra NAME=value settings of the service, e.g. TOKENVAULT_CRYPTO_DATA_KEY_CACHE_SIZE=0).

SCALE_SIZES="${BENCH_SCALE_SIZES:-1000 10000 100000}"
SCALE_PROVIDERS="${BENCH_SCALE_PROVIDERS:-local vault}"
SCALE_COLD="${BENCH_SCALE_COLD:-2000}"
SCALE_SPREAD_THREADS="${BENCH_SCALE_SPREAD_THREADS:-16}"
read -r -a SCALE_SERVICE_ENV <<<"${BENCH_SCALE_SERVICE_ENV:-}"

provider_env() { # provider: sets PROVIDER_ENV (the service's settings for it)
  PROVIDER_ENV=()
  if [[ "$1" == vault ]]; then
    PROVIDER_ENV=(TOKENVAULT_CRYPTO_PROVIDER=vault QUARKUS_VAULT_URL="$VAULT_URL"
      QUARKUS_VAULT_AUTHENTICATION_CLIENT_TOKEN="$VAULT_TOKEN")
  fi
}

start_scale_service() { # log file, provider; sets SERVICE_PID and STARTUP_MS
  provider_env "$2"
  T0_MS=$(date +%s%3N)
  launch_service "$1" "$SERVICE_PORT" TOKENVAULT_REFRESH_POLL_INTERVAL=1S ${PROVIDER_ENV[@]+"${PROVIDER_ENV[@]}"} \
    ${SCALE_SERVICE_ENV[@]+"${SCALE_SERVICE_ENV[@]}"} "$JAVA" $JAVA_OPTS -jar "$JAR"
  SERVICE_PID=$LAUNCHED_PID
  wait_ready "$1" "$SERVICE_PORT" "$SERVICE_PID" "the service ($2)"
  MGMT="http://127.0.0.1:${MGMT_PORT[$SERVICE_PORT]}" # where /q/metrics is served: the management interface
}

vault_calls() { # operation (decrypt, encrypt, ...): Transit requests the fake Vault answered so far
  ctl vault-stats >"$WORK/vault-stats.out" || die "cannot read the fake Vault's counts"
  local v
  v="$(kv "vault_transit_$1" "$WORK/vault-stats.out")"
  echo "${v:-0}"
}

key_calls() { # the service's calls to its key-encryption provider to open data keys: one per key, or one per batch
  curl -fs "$MGMT/q/metrics" >"$WORK/metrics-scale.txt" || { echo 0; return; }
  echo $(($(metric 'tokenvault_data_keys_opened_total{source="provider"' "$WORK/metrics-scale.txt") +
    $(metric 'tokenvault_data_key_batches_total' "$WORK/metrics-scale.txt")))
}

scale_step() { # provider N label
  local p="$1" n="$2" s="n${2}_$1" cold before calls0 calls1 unw0 unw1
  log "scale $s: fresh service"
  start_scale_service "$WORK/service-$s-a.log" "$p"
  fig "startup_ms_$s" "$STARTUP_MS"
  run_wrk "warmup-whoami-$s" "$WHOAMI_URL" "$CONNS" 5
  run_wrk "warmup-handout-$s" "$HANDOUT_URL" "$CONNS" 5

  # 1. every portal but the last COLD handed out once, concurrently: the rate of misses (and the JIT's warm-up)
  cold=$((n / 4 < SCALE_COLD ? n / 4 : SCALE_COLD))
  before="$(cpu_snapshot)"
  helper spread "$BASE" "$JWT_FILE" "$FIRST_PORTAL" $((n - cold)) "$SCALE_SPREAD_THREADS" spread >"$WORK/spread-$s.out" ||
    log "WARNING: spread hand-outs had errors ($s)"
  cpu_between "$before" "$(cpu_snapshot)" 0
  log "  spread: $(kv spread_per_second "$WORK/spread-$s.out")/s; $(cpu_text) (other includes the client JVM)"
  fig "spread_cpu_service_pct_$s" "$CPU_service"
  [[ -n "${DB_PID:-}" ]] && fig "spread_cpu_db_pct_$s" "$CPU_db"
  fig "spread_cpu_other_pct_$s" "$CPU_other"
  fig "spread_handout_per_second_$s" "$(kv spread_per_second "$WORK/spread-$s.out")"
  fig "spread_handout_errors_$s" "$(kv spread_errors "$WORK/spread-$s.out")"
  drain_audit "spread-$s"

  # 2. cold hand-outs: the last COLD portals, never asked since the start, sequential, one connection
  calls0="$(vault_calls decrypt)" unw0="$(key_calls)"
  helper latency "$BASE" "$JWT_FILE" $((FIRST_PORTAL + n - cold)) "$cold" distinct cold >"$WORK/cold-$s.out" ||
    die "cold hand-outs failed ($s)"
  calls1="$(vault_calls decrypt)" unw1="$(key_calls)"
  fig "cold_handout_requests_$s" "$(kv cold_requests "$WORK/cold-$s.out")"
  fig "cold_handout_p50_ms_$s" "$(kv cold_p50_ms "$WORK/cold-$s.out")"
  fig "cold_handout_p90_ms_$s" "$(kv cold_p90_ms "$WORK/cold-$s.out")"
  fig "cold_handout_p99_ms_$s" "$(kv cold_p99_ms "$WORK/cold-$s.out")"
  fig "key_calls_per_cold_handout_$s" "$(calc "\"%.3f\", ($unw1 - $unw0) / $cold")"
  [[ "$p" == vault ]] && fig "vault_requests_per_cold_handout_$s" "$(calc "\"%.3f\", ($calls1 - $calls0) / $cold")"
  drain_audit "cold-$s"
  # every token is cached now (up to tokenvault.token-cache.size): the live heap after a full collection
  jcmd "$SERVICE_PID" GC.run >/dev/null 2>&1 || log "WARNING: jcmd GC.run failed"
  sleep 1
  curl -fs "$MGMT/q/metrics" >"$WORK/metrics-handouts-$s.txt" || true
  fig "heap_live_mb_$s" "$(metric_mb 'jvm_memory_used_bytes{area="heap"' "$WORK/metrics-handouts-$s.txt")"
  fig "rss_after_handouts_mb_$s" "$(awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$SERVICE_PID/status")"
  stop_service

  # 3. the sweep, caches empty
  start_scale_service "$WORK/service-$s-b.log" "$p"
  sleep 6 # the refresher's first poll comes 5 s after the start
  # warm-up: the first W portals due and refreshed (the JIT), then the measured sweep of the others, whose data keys
  # were not opened since the start
  local w=$((n / 10 < 500 ? n / 10 : 500))
  helper sweep "$DB_JDBC_URL" "$DB_USER" "$DB_PASSWORD" "$SWEEP_TIMEOUT" "$FIRST_PORTAL" $((FIRST_PORTAL + w - 1)) \
    >"$WORK/sweep-warmup-$s.out" || log "WARNING: the warm-up sweep did not finish ($s)"
  calls0="$(vault_calls decrypt)" unw0="$(key_calls)"
  before="$(cpu_snapshot)"
  helper sweep "$DB_JDBC_URL" "$DB_USER" "$DB_PASSWORD" "$SWEEP_TIMEOUT" $((FIRST_PORTAL + w)) $((FIRST_PORTAL + n - 1)) \
    >"$WORK/sweep-$s.out" || log "WARNING: the sweep did not finish ($s)"
  cpu_between "$before" "$(cpu_snapshot)" 0
  log "  $(cpu_text)"
  calls1="$(vault_calls decrypt)" unw1="$(key_calls)"
  local done_n
  done_n="$(kv refresh_done "$WORK/sweep-$s.out")"
  fig "sweep_refreshed_$s" "$done_n"
  fig "sweep_seconds_$s" "$(kv refresh_sweep_seconds "$WORK/sweep-$s.out")"
  fig "sweep_per_second_$s" "$(kv refresh_per_second "$WORK/sweep-$s.out")"
  fig "sweep_first_after_seconds_$s" "$(kv refresh_first_after_seconds "$WORK/sweep-$s.out")"
  fig "sweep_needs_reauth_$s" "$(kv refresh_needs_reauth "$WORK/sweep-$s.out")"
  fig "sweep_with_failures_$s" "$(kv refresh_with_failures "$WORK/sweep-$s.out")"
  fig "sweep_cpu_service_pct_$s" "$CPU_service"
  [[ -n "${DB_PID:-}" ]] && fig "sweep_cpu_db_pct_$s" "$CPU_db"
  fig "sweep_cpu_helper_pct_$s" "$CPU_fake" # fake HubSpot and fake Vault
  fig "key_calls_per_refresh_$s" "$(calc "\"%.3f\", ($unw1 - $unw0) / ($done_n + 1e-9)")"
  [[ "$p" == vault ]] && fig "vault_requests_per_refresh_$s" "$(calc "\"%.3f\", ($calls1 - $calls0) / ($done_n + 1e-9)")"
  sleep 2
  fig "rss_mb_$s" "$(awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$SERVICE_PID/status")"
  curl -fs "$MGMT/q/metrics" >"$WORK/metrics-sweep-$s.txt" || true
  fig "gc_pause_total_ms_$s" "$(awk '/^jvm_gc_pause_seconds_sum/ { s += $NF } END { printf "%d", s * 1000 }' "$WORK/metrics-sweep-$s.txt")"
  fig "refresh_transient_$s" "$(metric 'tokenvault_refresh_total{outcome="transient"' "$WORK/metrics-sweep-$s.txt")"
  stop_service

  # 4. the database
  helper sizes "$DB_JDBC_URL" "$DB_USER" "$DB_PASSWORD" >"$WORK/sizes-$s.out" || die "sizes failed"
  fig "db_bytes_per_connection_after_sweep_$s" "$(kv db_bytes_per_connection "$WORK/sizes-$s.out")"
}

scale_run() {
  fig run scale
  fig scale_sizes "$SCALE_SIZES"
  fig scale_providers "$SCALE_PROVIDERS"
  fig vault_latency_ms "$VAULT_LATENCY_MS"
  fig seeding "direct: rows written into PostgreSQL, sealed with the service's crypto classes (not the browser flow)"
  [[ -n "${BENCH_SCALE_SERVICE_ENV:-}" ]] && fig scale_service_env "$BENCH_SCALE_SERVICE_ENV"
  log "starting the service once (empty database: Flyway migrates)"
  start_scale_service "$WORK/service-migrate.log" local
  fig startup_ms "$STARTUP_MS"
  stop_service
  local p n seeded
  for p in $SCALE_PROVIDERS; do
    ctl reset-connections >/dev/null || die "cannot reset the connections"
    seeded=0
    for n in $(echo "$SCALE_SIZES" | tr ' ' '\n' | sort -n); do
      log "scale: seeding $((n - seeded)) more connections directly ($p), $n in all"
      ctl "seed-direct?first=$((FIRST_PORTAL + seeded))&count=$((n - seeded))&provider=$p" >"$WORK/seed-n$n-$p.out" ||
        die "direct seeding failed: $(cat "$WORK/seed-n$n-$p.out")"
      fig "seed_seconds_n${n}_$p" "$(kv seed_seconds "$WORK/seed-n$n-$p.out")"
      seeded=$n
      helper sizes "$DB_JDBC_URL" "$DB_USER" "$DB_PASSWORD" >"$WORK/sizes-seed-n$n-$p.out" || die "sizes failed"
      fig "db_bytes_per_connection_n${n}_$p" "$(kv db_bytes_per_connection "$WORK/sizes-seed-n$n-$p.out")"
      scale_step "$p" "$n"
    done
  done
  fig service_log_errors "$(cat "$WORK"/service-*.log | grep -c ' ERROR ' || true)"
  fig service_log_warnings "$(cat "$WORK"/service-*.log | grep -c ' WARN ' || true)"
  if grep -qh -e ' ERROR ' -e ' WARN ' "$WORK"/service-*.log; then
    log "service log warnings/errors (first 10 distinct):"
    grep -h -e ' ERROR ' -e ' WARN ' "$WORK"/service-*.log | sed -E 's/^[0-9: ,.-]+//' | sort | uniq -c |
      sort -rn | head -10 >&2
  fi
  fig machine_load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
}
