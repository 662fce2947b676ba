#!/usr/bin/env bash
# `make engine`: make sure the Wazuh engine the rule and delivery tests use
# is there, building it once.
#
#   WAZUH_LAB          use this engine instead of the cache: a lab root built by
#                      shared/wazuh-engine/build.sh (wazuh/bin/wazuh-analysisd) or
#                      an installed Wazuh manager home (bin/wazuh-analysisd)
#   WAZUH_ENGINE_SRC   the wazuh-engine directory to build from
#                      (default ../shared/wazuh-engine, relative to the repository)
set -euo pipefail

VERSION=4.14.7
CACHE_BASE=${XDG_CACHE_HOME:-$HOME/.cache}/wazuh-pull
daemons="wazuh-analysisd wazuh-remoted wazuh-modulesd"

is_home() {
  local d
  for d in $daemons; do [ -x "$1/bin/$d" ] || return 1; done
}

if [ -n "${WAZUH_LAB:-}" ]; then
  if is_home "$WAZUH_LAB/wazuh"; then
    echo "engine: $WAZUH_LAB/wazuh (WAZUH_LAB)"
  elif is_home "$WAZUH_LAB"; then
    echo "engine: $WAZUH_LAB (WAZUH_LAB, an installed Wazuh home)"
  else
    echo "engine: WAZUH_LAB=$WAZUH_LAB is neither a lab root (wazuh/bin/{$daemons}) nor a Wazuh home (bin/{$daemons})" >&2
    exit 1
  fi
else
  lab=$CACHE_BASE/wazuh-lab-$VERSION
  if is_home "$lab/wazuh"; then
    echo "engine: $lab"
  else
    src=${WAZUH_ENGINE_SRC:-../shared/wazuh-engine}
    if [ ! -f "$src/build.sh" ]; then
      echo "engine: no Wazuh engine in $lab and no $src/build.sh to build one: set WAZUH_ENGINE_SRC to the wazuh-engine directory, or WAZUH_LAB to a built lab or an installed Wazuh manager home" >&2
      exit 1
    fi
    echo "engine: building Wazuh $VERSION into $lab from $src (once; a few minutes)"
    WAZUH_LAB="$lab" bash "$src/build.sh"
    is_home "$lab/wazuh" || { echo "engine: build.sh finished but $lab/wazuh has no daemons" >&2; exit 1; }
  fi
fi
