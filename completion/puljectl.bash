# bash completion for puljectl(1)                          -*- shell-script -*-
#
# Installed as "puljectl" in bash-completion's completions directory; works
# without bash-completion too (source it from ~/.bashrc).

# The call ids ([call ID] groups) of configuration file $1; nothing when the
# file cannot be read.
_puljectl_calls()
{
    [[ -r $1 && -f $1 ]] || return 0
    sed -n 's/^[[:space:]]*\[call \([A-Za-z0-9._-]\{1,\}\)\][[:space:]]*$/\1/p' -- "$1" 2>/dev/null
}

# Files (or, with -d, directories) matching $cur, with or without
# bash-completion's helpers.
_puljectl_files()
{
    if declare -F _filedir >/dev/null; then
        _filedir ${1:+"$1"}
        return
    fi
    local IFS=$'\n'
    compopt -o filenames 2>/dev/null
    if [[ ${1-} == -d ]]; then
        COMPREPLY=($(compgen -d -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

_puljectl()
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

    local commands='status list show applications summary raw extract reclassify decide reconcile export report ledger verify receipts receipt'
    local global_opts='--config --db --color --help --version'

    # The command, the configuration file and the positional arguments so far.
    local i w command='' config=/etc/puljed/puljed.conf npos=0
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        case $w in
            -c | --config)
                config=${words[i + 1]}
                ((i++))
                ;;
            --config=*) config=${w#--config=} ;;
            -c?*) config=${w#-c} ;;
            -d | --db | --color | --colour | --note | --format | --call | -o | --output | --status | --since)
                ((i++))
                ;;
            -*) ;;
            *)
                if [[ -z $command ]]; then
                    command=$w
                else
                    ((npos++))
                fi
                ;;
        esac
    done
    # A "~/" in the configuration's name, as the shell would expand it.
    [[ $config == \~/* ]] && config=$HOME/${config#\~/}

    case $prev in
        -c | --config | -d | --db)
            _puljectl_files
            return
            ;;
        --color | --colour)
            COMPREPLY=($(compgen -W 'auto always never' -- "$cur"))
            return
            ;;
        --format)
            COMPREPLY=($(compgen -W 'csv json' -- "$cur"))
            return
            ;;
        --status)
            # A comma-separated list: complete its last element.
            local given=
            [[ $cur == *,* ]] && given=${cur%,*},
            COMPREPLY=($(compgen -P "$given" -W 'accepted late review unrelated' -- "${cur##*,}"))
            return
            ;;
        --call)
            COMPREPLY=($(compgen -W "$(_puljectl_calls "$config")" -- "$cur"))
            return
            ;;
        -o | --output)
            if [[ $command == report ]]; then
                _puljectl_files -d
            else
                _puljectl_files
            fi
            return
            ;;
        --note | --since)
            return
            ;;
    esac
    $split && return

    if [[ $cur == -* ]]; then
        local opts=$global_opts
        case $command in
            status | show | reconcile | verify | receipts) opts+=' --json' ;;
            receipt) opts+=' --again' ;;
            list | applications) opts+=' --json --status --call --since' ;;
            reclassify) opts+=' --dry-run --json' ;;
            decide) opts+=' --note' ;;
            export) opts+=' --format --messages --output --status --call --since' ;;
            report | ledger) opts+=' --output --call' ;;
            summary) opts+=' --json --call' ;;
            raw) opts+=' --output' ;;
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    if [[ -z $command ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        return
    fi
    case $command in
        extract)
            # extract ID DIR
            ((npos == 1)) && _puljectl_files -d
            ;;
        decide)
            # decide ID accept|reject
            ((npos == 1)) && COMPREPLY=($(compgen -W 'accept reject' -- "$cur"))
            ;;
        receipt)
            # receipt send ID
            ((npos == 0)) && COMPREPLY=($(compgen -W 'send' -- "$cur"))
            ;;
    esac
} &&
    complete -F _puljectl puljectl

# ex: filetype=sh
