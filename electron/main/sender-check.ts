/**
 * Which frames may call the services over Electron IPC: only the main frame of our own window,
 * showing our own `app://` origin (or, in development only, the electron-vite dev server).
 * Kept free of Electron imports so it is tested in plain Node.
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'pixel-llm';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

export interface SenderFacts {
  /** senderFrame.url; null when the frame is gone (navigated or destroyed). */
  frameUrl: string | null;
  isMainFrame: boolean;
}

export type SenderVerdict = { ok: true; origin: string } | { ok: false; reason: string };

export function checkSender(sender: SenderFacts, allowedOrigins: readonly string[]): SenderVerdict {
  if (sender.frameUrl === null) return { ok: false, reason: 'the sending frame no longer exists' };
  if (!sender.isMainFrame) return { ok: false, reason: 'IPC is accepted from the main frame only' };
  let origin: string;
  try {
    const u = new URL(sender.frameUrl);
    // URL.origin is "null" for non-special schemes such as app:, so build it ourselves.
    origin = `${u.protocol}//${u.host}`;
  } catch {
    return { ok: false, reason: `unparseable sender URL ${JSON.stringify(sender.frameUrl.slice(0, 100))}` };
  }
  if (!allowedOrigins.includes(origin)) return { ok: false, reason: `sender origin ${origin} is not allowed` };
  return { ok: true, origin };
}
