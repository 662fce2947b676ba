#!/usr/bin/env bash
# `make seed-test`: fetch the seed wodles' rule sets once (public GitHub
# repositories) for the drop-in test, which loads them instead of ours.
#
#   WAZUH_SEED_RULES   the seed wodle repositories (directories or bare git dirs)
#                      whose rules/*.xml the drop-in test loads; default: the
#                      cache's seeds/, cloned from GitHub when missing
set -euo pipefail
CACHE_BASE=${XDG_CACHE_HOME:-$HOME/.cache}/wazuh-pull
[ -n "${WAZUH_SEED_RULES:-}" ] && exit 0
mkdir -p "$CACHE_BASE/seeds"
for repo in wazuh-1password wazuh-cortex-xdr; do
  dst=$CACHE_BASE/seeds/$repo.git
  [ -d "$dst" ] && continue
  if git clone --quiet --bare "https://github.com/jnthans/$repo.git" "$dst.part" 2>/dev/null; then
    mv "$dst.part" "$dst"
    echo "seeds: $repo cloned into $dst"
  else
    rm -rf "$dst.part"
    echo "seeds: could not clone https://github.com/jnthans/$repo (no network?): clone it elsewhere with git clone --bare into $dst, or set WAZUH_SEED_RULES to the seed repositories" >&2
    exit 1
  fi
done
