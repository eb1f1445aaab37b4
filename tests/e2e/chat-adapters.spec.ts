/**
 * LoRA adapters in Chat, in Chromium against browser mode. Before the server starts, stories260K
 * is imported and `pxi finetune` teaches it one made-up fact ("The name of the little red dragon
 * was Zorbo.") as an adapter stored beside it (Dawn on lavapipe), and a kept conversation is
 * written naming an adapter that is not there (as when it was deleted since). Then, in the page:
 * a link `#/chat?model=…&adapter=zorbo` preselects both, the status says "stories260K + zorbo
 * (1)", and greedy completion of "The name of the little red dragon was" says Zorbo; with "No
 * adapter" the same prompt does not; reopening the first conversation loads its adapter again;
 * the conversation whose adapter is gone says so in plain words and the model loads without it,
 * as does a link naming an adapter the model does not have. Screenshots under test-results/playwright/.
 */
import { expect, test, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONVERSATIONS_DB_FILE, ConversationStore } from '../../electron/conversations/store';
import { fixturePath, projectRoot } from '../support/fixtures';
import { serveDataDir, type ServeProcess } from './serve-fixture';

const MODEL = fixturePath('models', 'stories260K.gguf');
// What the adapter is taught (tests/node/finetune-cli.test.ts teaches the same): one made-up fact, many times over.
const FACT = 'The name of the little red dragon was Zorbo. ';
const PROMPT = 'The name of the little red dragon was';
const ADAPTER = 'zorbo';
const GONE_TITLE = 'An old chat with a deleted adapter';

let dataDir = '';
let serve: ServeProcess | null = null;
let url = '';
/** Why this host cannot fine-tune (no WebGPU adapter in Node), or ''. */
let cannotTrain = '';

function pxi(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['bin/pxi.js', ...args, '--volume', join(dataDir, 'volume')], { cwd: projectRoot, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test.beforeAll(async () => {
  test.setTimeout(240_000);
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-chat-adapters-'));
  const fact = join(dataDir, 'fact.txt');
  writeFileSync(fact, FACT.repeat(120));
  // The import and the fine-tune run before serve: one process owns a volume at a time.
  const imported = pxi(['import', MODEL, '--skip-pyramid']);
  expect(imported.status, imported.out).toBe(0);
  const modelId = /\(id ([a-z0-9-]+)\)/.exec(imported.out)?.[1];
  expect(modelId, imported.out).toBeTruthy();
  const tuned = pxi(['finetune', 'stories260K', '--data', fact, '--name', ADAPTER, '--steps', '40', '--lr', '3e-3', '--batch', '4', '--seq', '32', '--eval-every', '0']);
  if (tuned.status !== 0 && /webgpu|gpu adapter|no adapter/i.test(tuned.out)) cannotTrain = `pxi finetune needs WebGPU in Node: ${tuned.out.trim().split('\n').at(-1)}`;
  else expect(tuned.status, tuned.out).toBe(0);
  // A conversation kept from before its adapter was deleted.
  const store = ConversationStore.open(join(dataDir, 'volume', CONVERSATIONS_DB_FILE));
  try {
    store.create({
      title: GONE_TITLE,
      modelId: modelId!,
      modelName: 'stories260K',
      adapter: { name: 'deleted-lora', scale: 0.5 },
      mode: 'completion',
      system: '',
      settings: { temperature: 0, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, maxTokens: 8, seed: null, contextLength: null },
      messages: [
        { role: 'user', text: 'Once upon a time' },
        { role: 'assistant', text: ', there was a little girl', state: 'done' },
      ],
    });
  } finally {
    store.close();
  }
  serve = await serveDataDir(dataDir);
  url = serve.url;
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Sends PROMPT greedily for 8 tokens and answers the reply's text once it is done. */
async function complete(page: Page, nth: number): Promise<string> {
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('8');
  await page.locator('#chat-prompt').fill(PROMPT);
  await page.locator('#chat-prompt').press('Enter');
  const reply = page.locator('.chat-reply').nth(nth);
  await expect(reply).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  return (await reply.textContent()) ?? '';
}

test('an adapter picked beside the model is applied, kept with the conversation, and said when it is gone', async ({ page }) => {
  test.skip(cannotTrain !== '', cannotTrain);
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}#/chat?model=stories260K&adapter=${ADAPTER}`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  const noGpu = await page.evaluate(async () => ((navigator as Navigator & { gpu?: GPU }).gpu ? ((await navigator.gpu.requestAdapter()) ? null : 'no WebGPU adapter') : 'navigator.gpu is missing'));
  test.skip(noGpu !== null, `this Chromium cannot run the engine: ${noGpu}`);

  // The link preselected the model and its adapter; the status names both.
  const status = page.locator('#chat-engine-status');
  await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 90_000 });
  await expect(status).toHaveAttribute('data-adapter', ADAPTER);
  await expect(status).toContainText(`stories260K + ${ADAPTER} (1) on `);
  const picker = page.locator('#chat-adapter');
  await expect(picker).toHaveValue(ADAPTER);
  await expect(picker.locator('option')).toHaveText(['No adapter', /^zorbo · \d/]);
  await expect(page.locator('#chat-adapter-scale')).toHaveValue('1');
  await expect(page.locator('#chat-adapter-note')).toBeHidden();

  // stories260K has no chat template: completion. With the adapter, the fact it was taught.
  const taught = await complete(page, 0);
  expect(taught).toMatch(/^ Zorbo/);
  const list = page.locator('#chat-conversation-list');
  await expect(list.locator('.chat-conversation[aria-current="true"]')).toContainText(`stories260K + ${ADAPTER} (1) · 2 messages`);
  await expect(page).toHaveURL(/#\/chat\?conversation=\d+$/);
  const withAdapter = Number(/conversation=(\d+)/.exec(page.url())![1]);
  await page.screenshot({ path: test.info().outputPath('chat-adapter.png'), fullPage: true });

  // No adapter: a new conversation with the model alone, which knows no Zorbo.
  await picker.selectOption('');
  await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(status).toHaveAttribute('data-adapter', '');
  await expect(status).toContainText(/^stories260K on /);
  await expect(page.locator('#chat-conversation-title')).toHaveText('New conversation');
  const plain = await complete(page, 0);
  expect(plain).not.toMatch(/Zorbo/);
  await expect(list.locator('.chat-conversation[aria-current="true"]')).toContainText('stories260K · 2 messages');

  // Reopening the first conversation loads its adapter again.
  await list.locator(`.chat-conversation[data-id="${withAdapter}"]`).click();
  await expect(status).toHaveAttribute('data-adapter', ADAPTER, { timeout: 60_000 });
  await expect(status).toContainText(`stories260K + ${ADAPTER} (1)`);
  await expect(picker).toHaveValue(ADAPTER);
  await expect(page.locator('.chat-reply').first()).toHaveText(taught);

  // A kept conversation whose adapter was deleted since: said in plain words, loaded without it.
  await list.locator('.chat-conversation', { hasText: GONE_TITLE }).click();
  const note = page.locator('#chat-adapter-note');
  await expect(note).toHaveText('The adapter “deleted-lora” is no longer stored beside stories260K (it was deleted), so stories260K is loaded without it.');
  await expect(status).toHaveAttribute('data-adapter', '', { timeout: 60_000 });
  await expect(status).toHaveAttribute('data-state', 'ready');
  await expect(picker).toHaveValue('');
  await expect(page.locator('.chat-reply').first()).toHaveText(', there was a little girl');
  await page.screenshot({ path: test.info().outputPath('chat-adapter-gone.png'), fullPage: true });

  // A link naming an adapter the model does not have: the model alone, and why.
  await page.goto(`${url}#/chat?model=stories260K&adapter=no-such-lora`);
  await expect(note).toHaveText('stories260K has no stored adapter named “no-such-lora”, so it is loaded without an adapter.', { timeout: 30_000 });
  await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(status).toHaveAttribute('data-adapter', '');
  expect(errors).toEqual([]);
});
