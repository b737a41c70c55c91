/**
 * `vireo completion bash|zsh`: a completion script made from the program itself, so every command
 * and flag is offered as this build has them; canary names come from `vireo get canaries -o name`
 * with the -n, --context, --kubeconfig, --local and --state-dir already typed. zsh loads the same
 * function through bashcompinit. Installed as `kubectl-vireo`, the names complete there too.
 */
import type { Command } from 'commander';

/** Commands whose first argument is a canary's name. */
const TAKES_CANARY = ['status', 'explain'];

function shellWords(words: readonly string[]): string {
  // Command and flag names are ours ([a-z-]); nothing else goes into the script.
  return words.filter((word) => /^[-a-zA-Z0-9]+$/.test(word)).join(' ');
}

export function completionScript(shell: 'bash' | 'zsh', program: Command): string {
  const commands = program.commands.filter(
    (command) => !(command as Command & { _hidden?: boolean })._hidden,
  );
  const cases = commands
    .map((command) => {
      const flags = command.options.flatMap((option) =>
        [option.short, option.long].filter((flag): flag is string => flag !== undefined),
      );
      return `    ${command.name()}) opts="${shellWords([...flags, '--help'])}" ;;`;
    })
    .join('\n');
  const bash = `# vireo completion (bash). Load with: source <(vireo completion bash)
_vireo() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${shellWords(commands.map((command) => command.name()))}" -- "$cur") )
    return
  fi
  local cmd="\${COMP_WORDS[1]}" opts=""
  case "$cmd" in
${cases}
  esac
  case "$prev" in
    -o|--output) COMPREPLY=( $(compgen -W "wide json yaml name" -- "$cur") ); return ;;
    -n|--namespace|--context|--kubeconfig|--state-dir|-l|--selector|--since|--reason) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
    return
  fi
  local target=() i
  for (( i=2; i<COMP_CWORD; i++ )); do
    case "\${COMP_WORDS[i]}" in
      -n|--namespace|--context|--kubeconfig|--state-dir) target+=( "\${COMP_WORDS[i]}" "\${COMP_WORDS[i+1]}" ) ;;
      -A|--all-namespaces|--local) target+=( "\${COMP_WORDS[i]}" ) ;;
    esac
  done
  case "$cmd" in
    ${TAKES_CANARY.join('|')}|get)
      if [ "$cmd" = get ] && [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=( $(compgen -W "canaries" -- "$cur") )
        return
      fi
      local names
      names=$("\${COMP_WORDS[0]}" get canaries -o name "\${target[@]}" 2>/dev/null | sed 's|.*/||')
      COMPREPLY=( $(compgen -W "$names" -- "$cur") )
      ;;
  esac
}
complete -F _vireo vireo kubectl-vireo
`;
  return shell === 'bash'
    ? bash
    : `# vireo completion (zsh). Load with: source <(vireo completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bash.split('\n').slice(1).join('\n')}`;
}
