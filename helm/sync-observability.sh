#!/bin/sh
# Copy the Grafana dashboards and Prometheus alert rules from deploy/ into the chart.
# Helm can only package files inside the chart directory, so the chart carries copies; deploy/ holds
# the originals and tests/deploy/test_observability_copies.py fails when the two differ.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
chart="$root/helm/triage/files"

rm -f "$chart"/dashboards/*.json "$chart"/rules/*.yml
mkdir -p "$chart/dashboards" "$chart/rules"
for file in "$root"/deploy/grafana/dashboards/*.json; do
    [ -e "$file" ] && cp "$file" "$chart/dashboards/"
done
for file in "$root"/deploy/prometheus/rules/*.yml; do
    [ -e "$file" ] && cp "$file" "$chart/rules/"
done
echo "copied $(ls "$chart/dashboards" | wc -l) dashboards and $(ls "$chart/rules" | wc -l) rule files"
