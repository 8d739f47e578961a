# bash completion for puljed(8)                            -*- shell-script -*-
#
# Installed as "puljed" in bash-completion's completions directory; works
# without bash-completion too (source it from ~/.bashrc).

_puljed()
{
    local cur prev words cword split=false
    if declare -F _init_completion >/dev/null; then
        _init_completion -s || return
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        if [[ $cur == --*=* ]]; then
            prev=${cur%%=*}
            cur=${cur#*=}
            split=true
        fi
    fi

    case $prev in
        -c | --config)
            if declare -F _filedir >/dev/null; then
                _filedir
            else
                local IFS=$'\n'
                compopt -o filenames 2>/dev/null
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            return
            ;;
    esac
    $split && return

    # --once and --check-config exclude each other; --help and --version
    # stand alone.
    local i mode='' config=''
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --once | --check-config) mode=${words[i]} ;;
            -c | --config) config=1 ;;
            --config=* | -c?*) config=1 ;;
        esac
    done
    local opts=
    [[ -z $config ]] && opts+=' --config'
    [[ -z $mode ]] && opts+=' --once --check-config'
    ((cword == 1)) && opts+=' --help --version'
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
} &&
    complete -F _puljed puljed

# ex: filetype=sh
