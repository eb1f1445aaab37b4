import type { ReplyStats } from '../ipc/channels/conversations';

/**
 * One reply's figures as one line of text, the same in the Chat view and in an exported
 * conversation: time to first token, prefill and decode speed, why it stopped, the seed.
 */

const rate = (x: number) => (Number.isFinite(x) && x > 0 ? x.toFixed(1) : '–');

export function stopReasonText(r: ReplyStats['stopReason']): string {
  switch (r) {
    case 'eos':
      return 'end of text';
    case 'length':
      return 'max tokens';
    case 'aborted':
      return 'stopped';
    case 'context':
      return 'context full';
    case 'stop':
      return 'stop string';
  }
}

export function replyStatsLine(s: ReplyStats): string {
  const first = s.timeToFirstTokenMs === null ? 'no token' : `first token ${(s.timeToFirstTokenMs / 1000).toFixed(2)} s`;
  return (
    `${first} · prefill ${s.promptTokens} tokens, ${rate(s.prefillTokensPerSecond)} tokens/s · decode ${s.decodeTokens} tokens, ${rate(s.decodeTokensPerSecond)} tokens/s` +
    ` · stop: ${stopReasonText(s.stopReason)} · seed ${s.seed}`
  );
}
