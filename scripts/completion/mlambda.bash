# bash completion for mlambda (and its `hs` alias).
# Install: source this file, or copy it to
#   /usr/share/bash-completion/completions/mlambda  (and symlink as hs)
# Completes commands, subcommands, options, cluster names (from the CLI's
# config.yaml) and model/application names (asked from the current cluster,
# quietly skipped when it is unreachable).
# shellcheck disable=SC2207  # COMPREPLY=($(compgen ...)) is the completion idiom

_mlambda_config() {
  local dir=${XDG_CONFIG_HOME:-$HOME/.config}
  echo "$dir/mlambda/config.yaml"
}

_mlambda_clusters() {
  local cfg
  cfg=$(_mlambda_config)
  [ -r "$cfg" ] || return
  sed -n 's/^[- ] *name: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$cfg"
}

# Names of models or applications from the server (JSON list output).
_mlambda_remote_names() {
  local prog=$1 what=$2
  "$prog" "$what" list --json 2>/dev/null |
    sed -n 's/^ *"name": *"\([^"]*\)".*/\1/p' | sort -u
}

_mlambda() {
  local cur prev prog cmd sub
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  prog=${COMP_WORDS[0]}
  cmd=${COMP_WORDS[1]:-}
  sub=${COMP_WORDS[2]:-}

  local global="--cluster --json --help"
  case "$prev" in
    --cluster) COMPREPLY=($(compgen -W "$(_mlambda_clusters)" -- "$cur")); return ;;
    -d|--dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    -f|--filename) COMPREPLY=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur") $(compgen -d -- "$cur") -); return ;;
    --data) [[ "$cur" == @* ]] && COMPREPLY=($(compgen -f -P @ -- "${cur#@}")); return ;;
    --server|--grpc|--token|--name|-n|--description|--label|-l|--text|-t|--wait|--port|--data-dir|--db|--host) return ;;
  esac

  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "serve cluster upload apply model app predict version --help" -- "$cur"))
    return
  fi

  case "$cmd" in
    cluster)
      if [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=($(compgen -W "add use list rm" -- "$cur"))
      elif [[ "$cur" == -* ]]; then
        if [ "$sub" = add ]; then
          COMPREPLY=($(compgen -W "--name --server --grpc --token $global" -- "$cur"))
        else
          COMPREPLY=($(compgen -W "$global" -- "$cur"))
        fi
      elif [ "$sub" = use ] || [ "$sub" = rm ]; then
        COMPREPLY=($(compgen -W "$(_mlambda_clusters)" -- "$cur"))
      fi ;;
    upload)
      COMPREPLY=($(compgen -W "--name --dir --description --label --wait --quiet $global" -- "$cur")) ;;
    apply)
      COMPREPLY=($(compgen -W "-f --dry-run --wait --quiet $global" -- "$cur")) ;;
    model|app)
      if [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=($(compgen -W "list get rm" -- "$cur"))
      elif [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$global" -- "$cur"))
      elif [ "$sub" = get ] || [ "$sub" = rm ]; then
        COMPREPLY=($(compgen -W "$(_mlambda_remote_names "$prog" "$cmd")" -- "$cur"))
      fi ;;
    predict)
      if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "--data --text --grpc $global" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "$(_mlambda_remote_names "$prog" model) $(_mlambda_remote_names "$prog" app)" -- "$cur"))
      fi ;;
    serve)
      COMPREPLY=($(compgen -W "--port --host --data-dir --db --help" -- "$cur")) ;;
  esac
}

complete -F _mlambda mlambda hs
