#!/bin/sh
# Started by the federation-gateway-audit for each suite ($1): ObjectOS's gateway in plain Federation mode,
# over the suite's supergraph (AUDIT_MODE=supergraph) or composing its subgraphs itself (AUDIT_MODE=compose).
# `exec`: the gateway is the process the audit stops, so none outlives the run.
set -e
base="http://127.0.0.1:4200/$1"
# The audit registers a suite's routes asynchronously: wait for them (5 s at most).
i=0
until curl -sf -o /dev/null "$base/supergraph"; do
  i=$((i + 1))
  if [ "$i" -gt 50 ]; then echo "the audit never served $base/supergraph" >&2; exit 1; fi
  sleep 0.1
done
if [ "$AUDIT_MODE" = compose ]; then
  OBJECTOS_SUBGRAPHS=$(curl -sf "$base/subgraphs" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).map((g)=>`${g.name}=${g.url}`).join(",")))')
  export OBJECTOS_SUBGRAPHS
else
  export OBJECTOS_SUPERGRAPH="$base/supergraph"
fi
export OBJECTOS_MODE=gateway OBJECTOS_AUTH=none OBJECTOS_QUERY_PLANNER="${OBJECTOS_QUERY_PLANNER:-stitching}" HOST=127.0.0.1 PORT=4000 OBJECTOS_RATE_LIMIT=0 OBJECTOS_POLL_MS=0
export OBJECTOS_SECRET="${OBJECTOS_SECRET:-federation-audit-secret-not-for-production-use}" OBJECTOS_INTROSPECTION=true LOG_LEVEL="${LOG_LEVEL:-warn}"
cd "$OBJECTOS_ROOT"
exec node --import @objectos/runtime/register gateway/src/main.ts
