#!/bin/bash
# HEALTHCHECK of the scorerecon image: GET /healthz on the port of SCORERECON_LISTEN (default 8080) with bash's
# /dev/tcp, so the runtime image needs no curl. Exit 0 when the answer is "HTTP/1.x 200", 1 otherwise.
port=${SCORERECON_LISTEN:-0.0.0.0:8080}
port=${port##*:}
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 4 status <&3 || exit 1
case "$status" in
  "HTTP/1."?" 200 "*) exit 0 ;;
  *) exit 1 ;;
esac
