import { timingSafeEqual } from 'node:crypto';

/**
 * Browser mode listens on 127.0.0.1 only, and still every request must prove it comes from the
 * page we printed: the Host header must be a loopback name with our port (so a DNS-rebinding
 * page on another name is refused), an Origin, when sent, must be our own origin, and the
 * per-start token must be in the URL or in the cookie the first request set.
 */
export interface GuardConfig {
  port: number;
  token: string;
}

export interface RequestFacts {
  host: string | undefined;
  origin: string | undefined;
  /** Path and query, as in http.IncomingMessage.url. */
  url: string;
  cookie: string | undefined;
  /** WebSocket upgrades must carry an Origin: browsers always send one. */
  requireOrigin: boolean;
}

export type GuardVerdict = { ok: true; tokenFromQuery: boolean } | { ok: false; status: number; reason: string };

export const LOOPBACK_NAMES = ['127.0.0.1', 'localhost'] as const;

export function tokenCookieName(port: number): string {
  return `pxi_token_${port}`;
}

export function allowedOrigins(port: number): string[] {
  return LOOPBACK_NAMES.map((h) => `http://${h}:${port}`);
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function checkRequest(req: RequestFacts, cfg: GuardConfig): GuardVerdict {
  const allowedHosts = LOOPBACK_NAMES.map((h) => `${h}:${cfg.port}`);
  if (!req.host || !allowedHosts.includes(req.host.toLowerCase())) {
    return { ok: false, status: 421, reason: `Host ${JSON.stringify(req.host ?? '')} is not allowed: use ${allowedHosts.join(' or ')}` };
  }
  if (req.origin !== undefined || req.requireOrigin) {
    if (!req.origin || !allowedOrigins(cfg.port).includes(req.origin.toLowerCase())) {
      return { ok: false, status: 403, reason: `Origin ${JSON.stringify(req.origin ?? '')} is not allowed` };
    }
  }
  let queryToken: string | null = null;
  try {
    queryToken = new URL(req.url, 'http://placeholder').searchParams.get('token');
  } catch {
    return { ok: false, status: 400, reason: 'malformed request URL' };
  }
  if (queryToken !== null) {
    if (sameToken(queryToken, cfg.token)) return { ok: true, tokenFromQuery: true };
    return { ok: false, status: 403, reason: 'wrong access token: open the URL that `pxi serve` printed' };
  }
  const cookieToken = readCookie(req.cookie, tokenCookieName(cfg.port));
  if (cookieToken !== undefined && sameToken(cookieToken, cfg.token)) return { ok: true, tokenFromQuery: false };
  return { ok: false, status: 401, reason: 'missing access token: open the URL that `pxi serve` printed' };
}
