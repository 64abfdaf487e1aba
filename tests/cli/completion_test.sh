#!/usr/bin/env bash
# Checks the bash completion script: commands, subcommands, options and
# cluster names from a temp config (no server needed).
set -u
SCRIPT=$1
MLAMBDA=$2
WORK=$(mktemp -d /tmp/mlambda-completion-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export XDG_CONFIG_HOME=$WORK
"$MLAMBDA" cluster add --name alpha --server http://127.0.0.1:1 >/dev/null
"$MLAMBDA" cluster add --name beta --server http://127.0.0.1:2 >/dev/null
shopt -s extglob
# shellcheck source=/dev/null
source "$SCRIPT"
fails=0
complete_words() { # expected, words...
  local want=$1
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _mlambda
  local got="${COMPREPLY[*]}"
  if [ "$got" != "$want" ]; then
    echo "FAIL: '$*' completed to '$got', expected '$want'"
    fails=$((fails + 1))
  fi
}
complete_words "cluster" mlambda clu
complete_words "model" hs mo
complete_words "add" mlambda cluster a
complete_words "alpha beta" mlambda cluster use ""
complete_words "beta" mlambda --cluster b
complete_words "--server" mlambda cluster add --se
complete_words "--dry-run" mlambda apply --dr
complete_words "--text" mlambda predict chat --te
[ "$fails" -eq 0 ] && echo "completion ok"
[ "$fails" -eq 0 ]
