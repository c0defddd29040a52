#!/usr/bin/env bash
# smoke-healthz.sh URL...
# The CI smoke check (.github/workflows/smoke.yml, self-hosted runner on the edge box): every URL must answer
# /healthz with a 2xx within SMOKE_ATTEMPTS tries (default 5, SMOKE_DELAY seconds apart, default 10). Prints one
# line per URL; exits 1 naming the URLs that stayed unhealthy. No secrets: /healthz is public.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: smoke-healthz.sh URL..." >&2; exit 2; }
attempts=${SMOKE_ATTEMPTS:-5}
delay=${SMOKE_DELAY:-10}
[[ $attempts =~ ^[1-9][0-9]*$ ]] || { echo "SMOKE_ATTEMPTS must be a positive integer" >&2; exit 2; }
[[ $delay =~ ^[0-9]+$ ]] || { echo "SMOKE_DELAY must be a number of seconds" >&2; exit 2; }
failed=()
for url in "$@"; do
  case $url in http://*|https://*) ;; *) echo "not an http(s) URL: $url" >&2; exit 2 ;; esac
  ok=0
  for i in $(seq 1 "$attempts"); do
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 15 "$url" 2>/dev/null || true)
    [ "$code" != 000 ] || code=''
    if [[ $code =~ ^2[0-9][0-9]$ ]]; then
      echo "ok: $url -> $code (attempt $i)"
      ok=1
      break
    fi
    echo "retry: $url -> ${code:-no answer} (attempt $i/$attempts)" >&2
    [ "$i" -lt "$attempts" ] && sleep "$delay"
  done
  [ "$ok" = 1 ] || failed+=("$url")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "UNHEALTHY: ${failed[*]}" >&2
  exit 1
fi
