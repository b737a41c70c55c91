/**
 * Credentials out of log lines and refusal reasons. Canary manifests carry them in commands
 * (`curl -u user:pass`, `hey -a user:pass`, `-H "Authorization: …"`, `-H "Cookie: …"`, API-key
 * headers, `https://user:pass@host/`, `?token=…`), and a log is read by more people than a Canary.
 * Parsed commands are redacted per argument (exact); raw text (only under --allow-any-command, and
 * in reasons) is redacted by pattern, erring towards hiding too much.
 */

const REDACTED = '[redacted]';

/** Header names whose value is a credential. */
export function isSensitiveHeader(name: string): boolean {
  const lower = name.trim().toLowerCase();
  return (
    lower === 'authorization' ||
    lower === 'proxy-authorization' ||
    lower === 'cookie' ||
    lower === 'set-cookie' ||
    /(token|secret|password|passwd|api-?key|apikey|auth|session|credential|signature)/.test(lower)
  );
}

/** Query parameter names whose value is a credential. */
function isSensitiveParameter(name: string): boolean {
  return /(token|secret|password|passwd|pwd|key|auth|session|credential|signature|sig)$|^(token|key|auth)/i.test(
    name,
  );
}

/** `Name: value` with the value hidden when the header carries a credential. */
export function redactHeader(header: string): string {
  const colon = header.indexOf(':');
  if (colon < 0) return header;
  const name = header.slice(0, colon);
  return isSensitiveHeader(name) ? `${name}: ${REDACTED}` : header;
}

/** A URL with its user information and credential-like query values hidden. */
export function redactUrl(text: string): string {
  return text
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]*@/i, `$1${REDACTED}@`)
    .replace(/([?&;])([^=&;#\s]+)=([^&;#\s]*)/g, (whole, separator: string, name: string) =>
      isSensitiveParameter(name) ? `${separator}${name}=${REDACTED}` : whole,
    );
}

/**
 * Free text (a command line under --allow-any-command, an error message): every form above,
 * found by pattern.
 */
export function redactText(text: string): string {
  return (
    text
      // -u user:pass, --user=user:pass, hey -a user:pass, --oauth2-bearer T, -U proxy credentials
      .replace(
        /(^|\s)(-u|--user|-U|--proxy-user|-a|--oauth2-bearer|--password|--token|-p)(\s*=\s*|\s+)(['"]?)[^\s'"]+\4/g,
        `$1$2$3${REDACTED}`,
      )
      // Attached short forms: -uuser:pass, -auser:pass
      .replace(/(^|\s)(['"]?)-([ua])([^\s'"=-][^\s'"]*)\2/g, `$1$2-$3${REDACTED}$2`)
      // Header values: Authorization: Bearer x, Cookie: a=b, X-Api-Key: k
      .replace(
        /((?:proxy-)?authorization|cookie|set-cookie|[\w-]{0,40}(?:token|secret|password|passwd|api-?key|apikey|auth|session|credential|signature)[\w-]{0,40})(\s*:\s*)[^'"\n]*/gi,
        `$1$2${REDACTED}`,
      )
      // scheme://user:pass@host
      .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s'"]*@/gi, `$1${REDACTED}@`)
      // ?token=… &api_key=…
      .replace(/([?&;])([^=&;#\s'"]+)=([^&;#\s'"]*)/g, (whole, separator: string, name: string) =>
        isSensitiveParameter(name) ? `${separator}${name}=${REDACTED}` : whole,
      )
  );
}
