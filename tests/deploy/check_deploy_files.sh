#!/usr/bin/env bash
# Checks the monitoring files shipped in deploy/: the Prometheus scrape config, the alert rules
# and their unit tests (promtool), and the Grafana dashboard (jq), against docs/metrics.md.
#
# Usage: check_deploy_files.sh REPO_ROOT
# Needs promtool (Debian/Ubuntu package `prometheus`) and jq; PROMTOOL and JQ override the
# commands. Runs every check, reports each failure, exits non-zero if any failed.
#
# jq, sed and grep programs are single-quoted on purpose:
# shellcheck disable=SC2016,SC2001
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 REPO_ROOT" >&2
  exit 2
fi
root=$(cd "$1" && pwd)

PROMTOOL=${PROMTOOL:-promtool}
JQ=${JQ:-jq}
missing=0
if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
  echo "error: promtool not found (tried '$PROMTOOL'). Install it (Debian/Ubuntu: apt-get install prometheus)" \
       "or set PROMTOOL=/path/to/promtool." >&2
  missing=1
fi
if ! command -v "$JQ" >/dev/null 2>&1; then
  echo "error: jq not found (tried '$JQ'). Install it (apt-get install jq) or set JQ=/path/to/jq." >&2
  missing=1
fi
[[ $missing -eq 0 ]] || exit 1

prom_dir=$root/deploy/prometheus
dashboard=$root/deploy/grafana/mapigate-dashboard.json
metrics_doc=$root/docs/metrics.md

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() {
  echo "ok:   $*"
}

for f in "$prom_dir/prometheus.yml" "$prom_dir/alerts.yml" "$prom_dir/alerts_test.yml" "$dashboard" \
         "$metrics_doc"; do
  if [[ ! -f $f ]]; then
    echo "FAIL: missing file $f" >&2
    exit 1
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- Prometheus: config, rules, rule unit tests. Run from the directory of the files so that
# rule_files (relative to the config / test file) resolve the same way as in production.
run_promtool() {
  local what=$1
  shift
  if (cd "$prom_dir" && "$PROMTOOL" "$@") >"$tmp/out" 2>&1; then
    pass "$what"
  else
    fail "$what"
    sed 's/^/      /' "$tmp/out" >&2
  fi
}
run_promtool "promtool check config prometheus.yml" check config prometheus.yml
run_promtool "promtool check rules alerts.yml" check rules alerts.yml
run_promtool "promtool test rules alerts_test.yml" test rules alerts_test.yml

# --- Metric names from the table in docs/metrics.md: "| `name` | type | ...".
metrics=$(sed -nE 's/^\|[[:space:]]*`(mapigate_[a-z0-9_]+)`[[:space:]]*\|[[:space:]]*([a-z]+).*/\1 \2/p' "$metrics_doc")
if [[ -z $metrics ]]; then
  fail "no mapigate_* metrics found in the table of $metrics_doc"
fi

# --- Grafana dashboard.
if ! "$JQ" empty "$dashboard" 2>"$tmp/err"; then
  fail "$dashboard is not valid JSON"
  sed 's/^/      /' "$tmp/err" >&2
  echo "$failures check(s) failed" >&2
  exit 1
fi
pass "dashboard is valid JSON"

# Dashboard-wide settings: schema version, datasource and instance template variables.
if "$JQ" -e '(.schemaVersion | type == "number" and . >= 37)' "$dashboard" >/dev/null; then
  pass "schemaVersion >= 37"
else
  fail "dashboard schemaVersion missing or below 37"
fi
if "$JQ" -e '[.templating.list[]? | select(.name == "datasource" and .type == "datasource"
                                           and .query == "prometheus")] | length == 1' \
     "$dashboard" >/dev/null; then
  pass "datasource template variable (Prometheus)"
else
  fail "dashboard has no 'datasource' template variable of type datasource/prometheus"
fi
if "$JQ" -e '[.templating.list[]? | select(.name == "instance")] | length == 1' "$dashboard" >/dev/null; then
  pass "instance template variable"
else
  fail "dashboard has no 'instance' template variable"
fi

# Every panel (rows included, and panels nested in collapsed rows) has a title; every panel
# that is not a row queries the ${datasource} variable.
bad_panels=$("$JQ" -r '
  [.panels[]?, (.panels[]? | .panels[]?)]
  | to_entries[]
  | .value as $p
  | (($p.title // "") | tostring | length > 0) as $titled
  | (if $p.type == "row" then true
     else ($p.datasource | type == "object" and (.uid == "${datasource}" or .uid == "$datasource"))
     end) as $sourced
  | select(($titled and $sourced) | not)
  | "panel #\(.key) (id \($p.id // "?"), type \($p.type // "?"), title \"\($p.title // "")\"):"
    + (if $titled then "" else " no title;" end)
    + (if $sourced then "" else " datasource is not the ${datasource} variable;" end)
' "$dashboard")
if [[ -n $bad_panels ]]; then
  fail "panels without title or datasource"
  sed 's/^/      /' <<<"$bad_panels" >&2
else
  pass "every panel has a title and a datasource"
fi

# Every metric of docs/metrics.md occurs in some targets[].expr (histograms as _bucket, _sum or
# _count too). A name only counts as a whole word: mapigate_upstream_connections must not be
# satisfied by mapigate_upstream_connections_pinned.
"$JQ" -r '[.. | objects | select(has("targets")) | .targets[]? | .expr? // empty] | .[]' \
  "$dashboard" >"$tmp/exprs"
if [[ ! -s $tmp/exprs ]]; then
  fail "dashboard has no target expressions"
fi
missing_metrics=()
while read -r name type; do
  [[ -n $name ]] || continue
  suffix=''
  [[ $type == histogram ]] && suffix='(_bucket|_sum|_count)?'
  if ! grep -Eq "(^|[^a-zA-Z0-9_:])${name}${suffix}([^a-zA-Z0-9_:]|\$)" "$tmp/exprs"; then
    missing_metrics+=("$name")
  fi
done <<<"$metrics"
if [[ ${#missing_metrics[@]} -gt 0 ]]; then
  fail "${#missing_metrics[@]} metric(s) of docs/metrics.md appear in no dashboard panel expression"
  printf '      %s\n' "${missing_metrics[@]}" >&2
else
  pass "all $(wc -l <<<"$metrics") metrics of docs/metrics.md appear in dashboard expressions"
fi

# PromQL syntax of the dashboard expressions: Grafana variables replaced by sample values, then
# checked by promtool as recording rules. An unknown variable is reported.
if grep -Eo '\$\{?[A-Za-z_][A-Za-z0-9_]*' "$tmp/exprs" \
     | grep -Ev '^\$\{?(__rate_interval|__interval|__range|instance)$' | sort -u >"$tmp/unknown_vars" \
   && [[ -s $tmp/unknown_vars ]]; then
  fail "dashboard expressions use template variables the dashboard does not define"
  sed 's/^/      /' "$tmp/unknown_vars" >&2
fi
"$JQ" '{groups: [{name: "dashboard", rules:
          [.. | objects | select(has("targets")) | .targets[]? | .expr? // empty]
          | map(gsub("\\$\\{?__rate_interval\\}?"; "5m") | gsub("\\$\\{?__interval\\}?"; "1m")
                | gsub("\\$\\{?__range\\}?"; "1h") | gsub("\\$\\{?instance\\}?"; ".+"))
          | to_entries | map({record: "dashboard_expr_\(.key)", expr: .value})}]}' \
  "$dashboard" >"$tmp/dashboard_rules.json"
if "$PROMTOOL" check rules "$tmp/dashboard_rules.json" >"$tmp/out" 2>&1; then
  pass "dashboard expressions are valid PromQL ($("$JQ" '.groups[0].rules | length' "$tmp/dashboard_rules.json") expressions)"
else
  fail "dashboard expressions are not valid PromQL"
  sed 's/^/      /' "$tmp/out" >&2
fi

if [[ $failures -gt 0 ]]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all deploy checks passed"
