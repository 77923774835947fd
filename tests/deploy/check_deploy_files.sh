#!/usr/bin/env bash
# Checks the monitoring files shipped in deploy/: the Prometheus scrape config, the alert and
# recording rules and their unit tests (promtool), and the Grafana dashboard (jq), against
# docs/metrics.md and against each other: every metric of the table in docs/metrics.md is shown
# by the dashboard (directly or through a recording rule of rules.yml that a panel reads), every
# metric the dashboard and the rules name is in that table, every recorded series a panel reads
# is defined in rules.yml, and every recording rule is read by a panel, an alert or another rule.
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

for f in "$prom_dir/prometheus.yml" "$prom_dir/alerts.yml" "$prom_dir/alerts_test.yml" \
         "$prom_dir/rules.yml" "$prom_dir/rules_test.yml" "$dashboard" "$metrics_doc"; do
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
run_promtool "promtool check rules rules.yml" check rules rules.yml
run_promtool "promtool test rules alerts_test.yml" test rules alerts_test.yml
run_promtool "promtool test rules rules_test.yml" test rules rules_test.yml
if grep -Eq '^[[:space:]]*-[[:space:]]*rules\.yml[[:space:]]*$' "$prom_dir/prometheus.yml"; then
  pass "prometheus.yml loads rules.yml"
else
  fail "prometheus.yml does not list rules.yml under rule_files (the dashboard reads its series)"
fi

# --- Metric names from the table in docs/metrics.md: "| `name` | type | ...": mapigate_* and the
# standard process_* metrics.
metrics=$(sed -nE 's/^\|[[:space:]]*`((mapigate|process)_[a-z0-9_]+)`[[:space:]]*\|[[:space:]]*([a-z]+).*/\1 \3/p' \
            "$metrics_doc")
if [[ -z $metrics ]]; then
  fail "no mapigate_* metrics found in the table of $metrics_doc"
fi

# Words of PromQL or YAML text, one a line: quoted strings (label values, "gw1:9464") and
# comments removed first. Metric names and recorded series names (level:metric:operations) are
# whole words; a YAML key ("expr:") ends with its colon and is no recorded series name.
words() {
  sed -E 's/#.*//; s/"([^"\\]|\\.)*"//g' "$@" | tr -cs 'A-Za-z0-9_:' '\n'
}
recorded_names() {
  grep -E '^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_:]*[A-Za-z0-9_]$' | sort -u || true
}
metric_names() {
  grep -E '^(mapigate|process)_[A-Za-z0-9_]+$' | sort -u || true
}

# --- Recording rules of rules.yml: "NAME<TAB>line" for every line of a rule (its expr), so
# that a recorded series can be replaced by the metrics it is computed from. Each rule must
# start with "- record: NAME" (promtool has checked the YAML itself).
if grep -Eq '^[[:space:]]*record:' "$prom_dir/rules.yml"; then
  fail "rules.yml: write each recording rule as \"- record: NAME\" followed by its expr (this script reads them so)"
fi
awk '
  { sub(/#.*/, "") }
  /^[[:space:]]*-[[:space:]]*record:/ {
    name = $0
    sub(/^[[:space:]]*-[[:space:]]*record:[[:space:]]*/, "", name)
    sub(/[[:space:]]*$/, "", name)
    gsub(/["\047]/, "", name)
    next
  }
  /^[[:space:]]*-[[:space:]]*(alert|name):/ { name = ""; next }
  name != "" { print name "\t" $0 }
' "$prom_dir/rules.yml" >"$tmp/rules.tsv"
defined_rules=$(grep -E '^[[:space:]]*-[[:space:]]*record:' "$prom_dir/rules.yml" \
                  | sed -E 's/^[[:space:]]*-[[:space:]]*record:[[:space:]]*//; s/[[:space:]]*(#.*)?$//' \
                  | tr -d "\"'" | sort)
if [[ -z $defined_rules ]]; then
  fail "rules.yml defines no recording rule"
fi
duplicates=$(uniq -d <<<"$defined_rules")
if [[ -n $duplicates ]]; then
  fail "recording rules defined more than once in rules.yml"
  sed 's/^/      /' <<<"$duplicates" >&2
fi
rule_text() {
  awk -F '\t' -v n="$1" '$1 == n { print substr($0, length(n) + 2) }' "$tmp/rules.tsv"
}

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

# Recorded series the dashboard reads must be defined in rules.yml. The expressions of those
# rules, and of the rules they read in turn, count as the dashboard's for the checks below.
cp "$tmp/exprs" "$tmp/exprs_expanded"
words "$tmp/exprs" | recorded_names >"$tmp/todo"
undefined=$(comm -23 "$tmp/todo" <(printf '%s\n' "$defined_rules" | sort -u))
if [[ -n $undefined ]]; then
  fail "dashboard expressions read recorded series that deploy/prometheus/rules.yml does not define"
  sed 's/^/      /' <<<"$undefined" >&2
else
  pass "every recorded series the dashboard reads is defined in rules.yml ($(wc -l <"$tmp/todo" | tr -d ' ') series)"
fi
: >"$tmp/seen"
while [[ -s $tmp/todo ]]; do
  sort -u "$tmp/seen" "$tmp/todo" -o "$tmp/seen"
  : >"$tmp/next"
  while read -r rule; do
    rule_text "$rule" >"$tmp/text"
    cat "$tmp/text" >>"$tmp/exprs_expanded"
    words "$tmp/text" | recorded_names >>"$tmp/next"
  done <"$tmp/todo"
  sort -u "$tmp/next" | comm -23 - "$tmp/seen" >"$tmp/todo"
done

# Every recording rule is read by the dashboard, by alerts.yml or by another such rule: the
# others only cost Prometheus evaluations.
words "$prom_dir/alerts.yml" | recorded_names >>"$tmp/seen"
unused=$(comm -23 <(printf '%s\n' "$defined_rules" | sort -u) <(sort -u "$tmp/seen"))
if [[ -n $unused ]]; then
  fail "recording rules of rules.yml that no dashboard panel, alert or other used rule reads"
  sed 's/^/      /' <<<"$unused" >&2
else
  pass "every recording rule of rules.yml is used"
fi

# Every metric of docs/metrics.md occurs in a dashboard expression or in a rule it reads.
missing_metrics=()
while read -r name type; do
  [[ -n $name ]] || continue
  suffix=''
  [[ $type == histogram ]] && suffix='(_bucket|_sum|_count)?'
  if ! grep -Eq "(^|[^a-zA-Z0-9_:])${name}${suffix}([^a-zA-Z0-9_:]|\$)" "$tmp/exprs_expanded"; then
    missing_metrics+=("$name")
  fi
done <<<"$metrics"
if [[ ${#missing_metrics[@]} -gt 0 ]]; then
  fail "${#missing_metrics[@]} metric(s) of docs/metrics.md appear in no dashboard panel expression (nor in a recording rule one reads)"
  printf '      %s\n' "${missing_metrics[@]}" >&2
else
  pass "all $(wc -l <<<"$metrics") metrics of docs/metrics.md appear in dashboard expressions (or the recording rules they read)"
fi

# The other way round: every mapigate_*/process_* name in the dashboard expressions, rules.yml
# and alerts.yml (annotations included) is a metric of docs/metrics.md, a histogram's
# _bucket/_sum/_count included. Catches a metric or a rename that the doc does not know.
: >"$tmp/known"
while read -r name type; do
  [[ -n $name ]] || continue
  echo "$name" >>"$tmp/known"
  if [[ $type == histogram ]]; then
    printf '%s\n' "${name}_bucket" "${name}_sum" "${name}_count" >>"$tmp/known"
  fi
done <<<"$metrics"
undocumented=$( { words "$tmp/exprs"; words "$prom_dir/rules.yml" "$prom_dir/alerts.yml"; } \
                | metric_names | comm -23 - <(sort -u "$tmp/known"))
if [[ -n $undocumented ]]; then
  fail "metrics used by the dashboard, rules.yml or alerts.yml but not in the table of docs/metrics.md"
  sed 's/^/      /' <<<"$undocumented" >&2
else
  pass "every metric the dashboard, rules.yml and alerts.yml name is in docs/metrics.md"
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
