#!/usr/bin/env bash
# The sandbox's speed, as ratios against baselines measured in the same run
# (docs/benchmarks.md). Builds 1,000- and 11,000-file repositories with 300
# commits from GOROOT/src at run time. PATCHGIT_BENCH_GOGIT=0 skips go-git's
# PlainClone (about a minute at 11,000 files).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchtime "${BENCHTIME:-7x}" -timeout 30m ./bench/
