import { describe, expect, it } from 'vitest';
import { checkRequest, tokenCookieName } from '../../electron/web/request-guard';
import { checkSender } from '../../electron/main/sender-check';
import { resolveStaticPath } from '../../electron/static-files';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cfg = { port: 4321, token: 'secret-token' };
const base = { host: '127.0.0.1:4321', origin: undefined, url: '/?token=secret-token', cookie: undefined, requireOrigin: false };

describe('browser-mode request guard', () => {
  it('accepts the printed URL on both loopback names, and the cookie afterwards', () => {
    expect(checkRequest(base, cfg)).toEqual({ ok: true, tokenFromQuery: true });
    expect(checkRequest({ ...base, host: 'LOCALHOST:4321' }, cfg).ok).toBe(true);
    expect(checkRequest({ ...base, url: '/assets/x.js', cookie: `a=b; ${tokenCookieName(4321)}=secret-token` }, cfg)).toEqual({ ok: true, tokenFromQuery: false });
  });

  it('refuses foreign, missing or port-mismatched Host headers (DNS rebinding)', () => {
    for (const host of ['evil.example:4321', '127.0.0.1:80', '127.0.0.1', undefined, '127.0.0.2:4321', 'localhost.evil.example:4321']) {
      const v = checkRequest({ ...base, host }, cfg);
      expect(v).toMatchObject({ ok: false, status: 421 });
    }
  });

  it('refuses foreign Origins, and upgrades without an Origin', () => {
    expect(checkRequest({ ...base, origin: 'http://evil.example' }, cfg)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest({ ...base, origin: 'http://127.0.0.1:9999' }, cfg)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest({ ...base, origin: 'null' }, cfg)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest({ ...base, requireOrigin: true }, cfg)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest({ ...base, origin: 'http://localhost:4321', requireOrigin: true }, cfg).ok).toBe(true);
  });

  it('refuses a missing, wrong or wrong-length token, in the URL or the cookie', () => {
    expect(checkRequest({ ...base, url: '/' }, cfg)).toMatchObject({ ok: false, status: 401 });
    expect(checkRequest({ ...base, url: '/?token=secret-tokeN' }, cfg)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest({ ...base, url: '/?token=' }, cfg)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest({ ...base, url: '/', cookie: `${tokenCookieName(4321)}=nope` }, cfg)).toMatchObject({ ok: false, status: 401 });
    expect(checkRequest({ ...base, url: '/', cookie: `${tokenCookieName(1111)}=secret-token` }, cfg)).toMatchObject({ ok: false, status: 401 });
  });
});

describe('Electron IPC sender check', () => {
  const allowed = ['app://pixel-llm'];
  it('accepts only the main frame of our own origin', () => {
    expect(checkSender({ frameUrl: 'app://pixel-llm/index.html', isMainFrame: true }, allowed)).toEqual({ ok: true, origin: 'app://pixel-llm' });
    expect(checkSender({ frameUrl: 'app://pixel-llm/index.html', isMainFrame: false }, allowed).ok).toBe(false);
    expect(checkSender({ frameUrl: 'https://evil.example/', isMainFrame: true }, allowed).ok).toBe(false);
    expect(checkSender({ frameUrl: 'app://pixel-llm.evil/index.html', isMainFrame: true }, allowed).ok).toBe(false);
    expect(checkSender({ frameUrl: 'file:///etc/passwd', isMainFrame: true }, allowed).ok).toBe(false);
    expect(checkSender({ frameUrl: null, isMainFrame: true }, allowed).ok).toBe(false);
    expect(checkSender({ frameUrl: 'not a url', isMainFrame: true }, allowed).ok).toBe(false);
  });
});

describe('static file resolution', () => {
  const root = mkdtempSync(join(tmpdir(), 'pxi-static-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), 'hi');
  writeFileSync(join(root, 'assets', 'a.js'), 'x');
  const outside = mkdtempSync(join(tmpdir(), 'pxi-outside-'));
  writeFileSync(join(outside, 'secret.txt'), 's');
  symlinkSync(join(outside, 'secret.txt'), join(root, 'link.txt'));

  it('serves files inside the root and nothing outside it', () => {
    expect(resolveStaticPath(root, '/')).toBe(join(root, 'index.html'));
    expect(resolveStaticPath(root, '/assets/a.js')).toBe(join(root, 'assets', 'a.js'));
    for (const p of ['/../etc/passwd', '/assets/../../x', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc', '/a%00b', '/link.txt', '/%E0%A4%A', '/assets\\..\\..\\x', '/missing.js']) {
      expect(resolveStaticPath(root, p), p).toBeNull();
    }
  });
});
