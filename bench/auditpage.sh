#!/bin/sh
# The web audit page's render time with 100 and with 100,000 audit entries,
# measured in the same run (docs/benchmarks.md): the ratio should stay near
# 1, since a page reads only its own entries and the chain's status is
# cached by the log's head.
set -eu
cd "$(dirname "$0")/.."
go test -run '^$' -bench AuditPageRender -benchtime "${BENCHTIME:-300x}" -count "${COUNT:-3}" ./internal/web
go test -run '^$' -bench 'AuditPage$' -benchtime "${BENCHTIME:-300x}" ./internal/audit
