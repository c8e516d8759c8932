#!/bin/sh
# Start one triage process (api, worker, beat, migrate) with the environment it needs.
set -eu

if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    # prometheus-client's multiprocess mode sums every *.db file in this directory. Files left by a
    # previous run of the container would be counted again, so start from an empty directory.
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete
fi

exec triage "$@"
