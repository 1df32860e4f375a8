#!/usr/bin/env bash
# A real Gitea for the forge tests: build it once (cached outside the repository, keyed by version), start it
# on loopback with its own data dir, create a user, a token and a repository, and write an env file the
# tests read (PATCHGIT_TEST_GITEA=<that file>).
#
#   scripts/gitea.sh build            build or reuse the binary
#   scripts/gitea.sh start DIR        start in DIR (created), write DIR/gitea.env; prints the env file path
#   scripts/gitea.sh stop DIR         stop the Gitea started in DIR
#
# Gitea is a Go module, but `go install` refuses it (its go.mod has replace directives); building the
# module's own copy works. It reports its version as "development", so the env file carries the real one.
set -euo pipefail

VERSION="${GITEA_VERSION:-1.26.0}"
CACHE="${PATCHGIT_CI_CACHE:-/var/cache/patchgit-ci}/gitea-$VERSION"
BIN="$CACHE/gitea"
SRC="$CACHE/src"

build() {
  if [ -x "$BIN" ] && [ -d "$SRC" ]; then
    echo "gitea.sh: reusing $BIN" >&2
    return
  fi
  mkdir -p "$CACHE"
  echo "gitea.sh: building Gitea $VERSION into $CACHE (several minutes, once)" >&2
  local dir
  dir=$(cd "$CACHE" && GOFLAGS=-mod=mod go mod download -json "code.gitea.io/gitea@v$VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "gitea.sh: go mod download gave no module directory for code.gitea.io/gitea@v$VERSION" >&2
    exit 1
  fi
  rm -rf "$SRC.tmp"
  cp -r "$dir" "$SRC.tmp"
  chmod -R u+w "$SRC.tmp"
  (cd "$SRC.tmp" && GOFLAGS=-buildvcs=false go build -tags 'sqlite sqlite_unlock_notify' -o "$BIN.tmp" .)
  rm -rf "$SRC"
  mv "$SRC.tmp" "$SRC"
  mv "$BIN.tmp" "$BIN"
}

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

start() {
  local dir="$1"
  build
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local port
  port=$(free_port)
  mkdir -p "$dir/custom/conf" "$dir/data" "$dir/log" "$dir/repos"
  cat >"$dir/custom/conf/app.ini" <<INI
APP_NAME = PatchGit test Gitea
RUN_MODE = prod
RUN_USER = $(id -un)
WORK_PATH = $dir
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = $port
ROOT_URL = http://127.0.0.1:$port/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
STATIC_ROOT_PATH = $SRC
APP_DATA_PATH = $dir/data
LFS_START_SERVER = false

[database]
DB_TYPE = sqlite3
PATH = $dir/data/gitea.db

[repository]
ROOT = $dir/repos
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = $(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
INTERNAL_TOKEN = $(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n')
PASSWORD_HASH_ALGO = pbkdf2_hi

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false

[mailer]
ENABLED = false

[log]
MODE = file
LEVEL = Warn
ROOT_PATH = $dir/log

[cron]
ENABLED = false

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false
INI
  local ini="$dir/custom/conf/app.ini"
  local run=("$BIN" --work-path "$dir" --custom-path "$dir/custom" --config "$ini")
  "${run[@]}" migrate >"$dir/log/migrate.out" 2>&1
  local pass
  pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  "${run[@]}" admin user create --admin --username patchgit --password "$pass" \
    --email patchgit@example.invalid --must-change-password=false >"$dir/log/user.out" 2>&1
  local token
  # As root Gitea prints a warning on stdout before the token: keep the token's line.
  token=$("${run[@]}" admin user generate-access-token --username patchgit --token-name ci \
    --scopes all --raw 2>"$dir/log/token.err" | grep -E '^[0-9a-f]{40}$' | tail -n 1)
  if [ -z "$token" ]; then
    echo "gitea.sh: no access token was generated; see $dir/log/token.err" >&2
    exit 1
  fi
  (setsid "${run[@]}" web >"$dir/log/web.out" 2>&1 & echo $! >"$dir/gitea.pid")
  local url="http://127.0.0.1:$port"
  for _ in $(seq 1 120); do
    if curl -fsS "$url/api/v1/version" >/dev/null 2>&1; then break; fi
    sleep 0.5
  done
  curl -fsS "$url/api/v1/version" >/dev/null || {
    echo "gitea.sh: Gitea did not answer on $url; see $dir/log" >&2
    exit 1
  }
  # The repository the issue asks for; tests make their own beside it so they never share state.
  local status
  status=$(curl -sS -o "$dir/log/repo.out" -w '%{http_code}' -H "Authorization: token $token" \
    -H 'Content-Type: application/json' \
    -d '{"name":"demo","auto_init":true,"default_branch":"main","readme":"Default"}' \
    "$url/api/v1/user/repos")
  if [ "$status" != 201 ]; then
    echo "gitea.sh: creating the repository answered $status: $(cat "$dir/log/repo.out")" >&2
    exit 1
  fi
  umask 077
  cat >"$dir/gitea.env" <<ENV
GITEA_URL=$url
GITEA_VERSION=$VERSION
GITEA_USER=patchgit
GITEA_TOKEN=$token
GITEA_REPO=patchgit/demo
ENV
  echo "$dir/gitea.env"
}

stop() {
  local dir="$1"
  if [ -f "$dir/gitea.pid" ]; then
    kill "$(cat "$dir/gitea.pid")" 2>/dev/null || true
    rm -f "$dir/gitea.pid"
  fi
}

case "${1:-}" in
  build) build ;;
  start) start "${2:?usage: gitea.sh start DIR}" ;;
  stop) stop "${2:?usage: gitea.sh stop DIR}" ;;
  *) echo "usage: gitea.sh build | start DIR | stop DIR" >&2; exit 2 ;;
esac
