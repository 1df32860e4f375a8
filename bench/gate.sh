#!/bin/sh
# The PIN gate under brute force: PINs evaluated per second by an
# unthrottled SSH server (the baseline) and by PatchGit's gated one, both
# with real argon2id, attacked the same way in the same run; plus the
# end-to-end brute-force and flood tests against the real binary, which log
# their figures (evaluations, rate over time, login times, RSS).
set -eu
cd "$(dirname "$0")/.."
go test -run '^$' -bench BruteForce -benchtime 1x ./internal/server
go test -count=1 -v -run 'TestE2EBruteForceIsCappedAndSurvivesKill9|TestE2EFloodDoesNotStarveARealLogin' ./cmd/patchgit |
	grep -E 'gate_e2e_test.go|^(---|ok|FAIL)'
