{{/*
The alert rules of tokenvault as a Prometheus rule-file body ("groups: ..."): the one source of both the
PrometheusRule (prometheusrule.yaml) and the plain rules file deploy/prometheus/tokenvault-rules.yaml, which
is this helper rendered with the chart's default values (Helm cannot read files outside the chart, and a
rules file inside files/ could not take thresholds from values). MonitoringChartTest fails when the plain
file differs from a fresh rendering, and MonitoringRulesPromtoolTest runs promtool on it.

Series are aggregated by (namespace, job): each deployment alerts once, whatever its replica count. The
database-derived gauges (connections, data keys) are the same on every replica, so they are combined with
max, not sum. The audit queue and the pending refresh-token writes are per replica (in memory), so their
alerts keep the instance/pod labels: they name the pod that must not be restarted.
Strings between {{` and `}} are Prometheus templates, filled in when the alert fires.
*/}}
{{- define "tokenvault.ruleGroups" -}}
{{- $rule := .Values.metrics.prometheusRule }}
{{- $a := $rule.alerts }}
{{- $runbook := default "docs/operations.md" $rule.runbookBaseUrl }}
groups:
  - name: tokenvault
    rules:
      {{- with $a.refreshFailing }}
      {{- if .enabled }}
      - alert: TokenvaultRefreshFailing
        expr: |-
          sum by (namespace, job, outcome) (rate(tokenvault_refresh_total{outcome=~"transient|rejected"}[{{ .window }}]))
            / ignoring (outcome) group_left
          sum by (namespace, job) (rate(tokenvault_refresh_total[{{ .window }}]))
            > {{ include "tokenvault.str" .ratio }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: {{ printf "HubSpot refreshes fail (%s)" "{{ $labels.outcome }}" | quote }}
          description: {{ printf "%s of the HubSpot refresh attempts of %s/%s over the last %s had outcome %s (threshold %s). transient: HubSpot, the network or the client secret is failing and connections back off; rejected: HubSpot refused refresh tokens and those connections now need re-authorisation. tokenvault_refresh_total has no app label: see the runbook for finding the apps." "{{ $value | humanizePercentage }}" "{{ $labels.namespace }}" "{{ $labels.job }}" .window "{{ $labels.outcome }}" (include "tokenvault.str" .ratio) | quote }}
          runbook_url: {{ printf "%s#tokenvaultrefreshfailing" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.needsReauthRising }}
      {{- if .enabled }}
      - alert: TokenvaultNeedsReauthRising
        expr: |-
          max by (namespace, job) (tokenvault_connections{status="needs_reauth"})
            - max by (namespace, job) (tokenvault_connections{status="needs_reauth"} offset {{ .window }})
            > {{ include "tokenvault.str" .increase }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "Connections need re-authorisation"
          description: {{ printf "%s more connections of %s/%s are in needs_reauth than %s ago: HubSpot rejected their refresh tokens, and their hand-outs answer 409 until a user of each portal installs the app again." "{{ $value }}" "{{ $labels.namespace }}" "{{ $labels.job }}" .window | quote }}
          runbook_url: {{ printf "%s#tokenvaultneedsreauthrising" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.accessTokensExpired }}
      {{- if .enabled }}
      - alert: TokenvaultAccessTokensExpired
        expr: |-
          max by (namespace, job) (tokenvault_connections_expired) > {{ include "tokenvault.str" .threshold }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "Access tokens expired before they were refreshed"
          description: {{ printf "%s active OAuth connections of %s/%s hold an access token that has already expired: the proactive refresh is late (refresher stopped, HubSpot or the key service failing). Their hand-outs refresh first, or answer 503." "{{ $value }}" "{{ $labels.namespace }}" "{{ $labels.job }}" | quote }}
          runbook_url: {{ printf "%s#tokenvaultaccesstokensexpired" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.auditBacklogNearLimit }}
      {{- if .enabled }}
      {{- $max := .maxBacklog | default (get $.Values.extraConfig "TOKENVAULT_AUDIT_MAX_BACKLOG") | default 100000 }}
      {{- $limit := mulf (float64 $max) (float64 .ratio) }}
      - alert: TokenvaultAuditBacklogNearLimit
        expr: |-
          tokenvault_audit_pending > {{ include "tokenvault.str" $limit }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "The audit backlog is close to its limit"
          description: {{ printf "%s audit events are queued in memory on %s (limit %s, tokenvault.audit.max-backlog): audit batches are not being written. At the limit this replica answers hand-outs and admin calls with 503, and a restart loses the queued events." "{{ $value }}" "{{ $labels.instance }}" (include "tokenvault.str" $max) | quote }}
          runbook_url: {{ printf "%s#tokenvaultauditbacklognearlimit" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.auditWriteFailing }}
      {{- if .enabled }}
      - alert: TokenvaultAuditWriteFailing
        expr: |-
          increase(tokenvault_audit_write_failures_total[{{ .window }}]) > 0
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "Audit records cannot be written"
          description: {{ printf "%s on %s failed to write audit batches in the last %s (%s failures). The events stay queued in memory and are retried; the backlog grows, and a restart would lose it." "{{ $labels.job }}" "{{ $labels.instance }}" .window "{{ $value | humanize }}" | quote }}
          runbook_url: {{ printf "%s#tokenvaultauditwritefailing" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.notReady }}
      {{- if .enabled }}
      - alert: TokenvaultNotReady
        expr: |-
          kube_pod_status_ready{condition="true", namespace={{ $.Release.Namespace | quote }}, pod=~{{ printf "%s-[a-z0-9]+-[a-z0-9]+" (include "tokenvault.fullname" $) | quote }}} == 0
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "A tokenvault pod is not ready (key service or database)"
          description: {{ printf "Pod %s/%s has not been ready for %s: its readiness check (/q/health/ready: the key service and the database) fails, so the Service sends it no traffic. When every pod is unready, callers cannot get tokens." "{{ $labels.namespace }}" "{{ $labels.pod }}" .for | quote }}
          runbook_url: {{ printf "%s#tokenvaultnotready" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.notifyFailing }}
      {{- if .enabled }}
      - alert: TokenvaultNotifyFailing
        expr: |-
          sum by (namespace, job) (rate(tokenvault_notify_failures_total[{{ .window }}])) > 0
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "Outgoing notifications fail"
          description: {{ printf "Deliveries of connection-event notifications of %s/%s to tokenvault.notify.url keep failing (%s failures per second over the last %s). They stay in the outbox and are retried; receivers learn of installs, re-authorisations and revocations late." "{{ $labels.namespace }}" "{{ $labels.job }}" "{{ printf \"%.2f\" $value }}" .window | quote }}
          runbook_url: {{ printf "%s#tokenvaultnotifyfailing" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.rewrapFailed }}
      {{- if .enabled }}
      - alert: TokenvaultRewrapFailed
        expr: |-
          max by (namespace, job) (tokenvault_rewrap_failed) > 0
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "The rewrap of data keys failed"
          description: {{ printf "The rewrap run of %s/%s is in state failed: data keys stay wrapped by an older key version, which must not be retired yet. GET /v1/admin/rewrap shows the error." "{{ $labels.namespace }}" "{{ $labels.job }}" | quote }}
          runbook_url: {{ printf "%s#tokenvaultrewrapfailed" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.dataKeysOnOldKeyVersion }}
      {{- if .enabled }}
      - alert: TokenvaultDataKeysOnOldKeyVersion
        expr: |-
          count by (namespace, job) (max by (namespace, job, key_version) (tokenvault_data_keys)) > 1
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "Data keys are still wrapped by an old key version"
          description: {{ printf "tokenvault_data_keys of %s/%s has shown %s key versions for %s: data keys behind the newest version were not rewrapped (background rewrap failing or not running). Retiring the old version now would make those connections unreadable." "{{ $labels.namespace }}" "{{ $labels.job }}" "{{ $value }}" .for | quote }}
          runbook_url: {{ printf "%s#tokenvaultdatakeysonoldkeyversion" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.rateBudgetPaused }}
      {{- if .enabled }}
      - alert: TokenvaultRateBudgetPaused
        expr: |-
          sum by (namespace, job) (increase(tokenvault_upstream_429_total[{{ .window }}])) > {{ include "tokenvault.str" .threshold }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "HubSpot answered 429 to the API proxy: rate budgets paused"
          description: {{ printf "HubSpot answered %s proxied calls of %s/%s with 429 in the last %s (threshold %s). Each 429 pauses that portal's rate budget on every replica (until Retry-After, or midnight UTC for the daily limit), and its callers wait or get 429 meanwhile. Something outside the vault spends the portal's HubSpot budget, or the budget is larger than HubSpot allows." "{{ $value | humanize }}" "{{ $labels.namespace }}" "{{ $labels.job }}" .window (include "tokenvault.str" .threshold) | quote }}
          runbook_url: {{ printf "%s#tokenvaultratebudgetpaused" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.rateBudgetExhausted }}
      {{- if .enabled }}
      - alert: TokenvaultRateBudgetExhausted
        expr: |-
          sum by (namespace, job) (rate(tokenvault_rate_budget_exhausted_total[{{ .window }}])) > {{ include "tokenvault.str" .threshold }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "Callers often get the vault's 429 (rate budget exhausted)"
          description: {{ printf "%s calls per second to %s/%s got 429 rate-budget-exhausted over the last %s (threshold %s): they waited for a permit of their portal's HubSpot rate budget in vain. Callers ask some portal for more than HubSpot allows; batch jobs should be spread out or slowed down." "{{ printf \"%.2f\" $value }}" "{{ $labels.namespace }}" "{{ $labels.job }}" .window (include "tokenvault.str" .threshold) | quote }}
          runbook_url: {{ printf "%s#tokenvaultratebudgetexhausted" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.refreshTokensLost }}
      {{- if .enabled }}
      - alert: TokenvaultRefreshTokensLost
        expr: |-
          increase(tokenvault_refresh_tokens_lost_total[{{ .window }}]) > 0
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "New refresh tokens from HubSpot could not be stored and were given up"
          description: {{ printf "%s on %s gave up storing %s new refresh tokens HubSpot returned, in the last %s: the database did not take them within tokenvault.refresh.pending-write-retention, or more were pending than pending-write-limit. If HubSpot revoked the previous refresh tokens, those connections need a re-install; an ERROR log line of that pod names each one." "{{ $labels.job }}" "{{ $labels.instance }}" "{{ $value | humanize }}" .window | quote }}
          runbook_url: {{ printf "%s#tokenvaultrefreshtokenslost" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.refreshWritesPending }}
      {{- if .enabled }}
      - alert: TokenvaultRefreshWritesPending
        expr: |-
          tokenvault_refresh_pending_writes > {{ include "tokenvault.str" .threshold }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "New refresh tokens from HubSpot wait in memory for the database"
          description: {{ printf "%s new refresh tokens HubSpot returned have been held only in memory on %s for at least %s: the database does not take them. They are written again with backoff and given up after tokenvault.refresh.pending-write-retention (1h by default). Do not restart or scale down this pod meanwhile: a restart loses them." "{{ $value }}" "{{ $labels.instance }}" .for | quote }}
          runbook_url: {{ printf "%s#tokenvaultrefreshwritespending" $runbook | quote }}
      {{- end }}
      {{- end }}
      {{- with $a.staticTokensRotationDue }}
      {{- if .enabled }}
      - alert: TokenvaultStaticTokensRotationDue
        expr: |-
          max by (namespace, job) (tokenvault_static_tokens_rotation_due) > {{ include "tokenvault.str" .threshold }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
        annotations:
          summary: "Static HubSpot credentials are due for rotation"
          description: {{ printf "%s service keys or private-app tokens held by %s/%s were stored longer ago than tokenvault.static-tokens.rotate-after (180 days by default; HubSpot reminds admins after 180 days too): rotate them at HubSpot and store the new ones. GET /v1/apps/{app}/portals?olderThan=P180D lists them." "{{ $value }}" "{{ $labels.namespace }}" "{{ $labels.job }}" | quote }}
          runbook_url: {{ printf "%s#tokenvaultstatictokensrotationdue" $runbook | quote }}
      {{- end }}
      {{- end }}
{{- end }}
