import { z } from 'zod';

/** Shared building blocks of channel schemas. */
export const Empty = z.strictObject({});

/** Bytes cross both transports as base64 text (JSON-safe over the WebSocket). */
export const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64 text');
