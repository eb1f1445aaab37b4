/**
 * Kept conversations in Chat, in Chromium against browser mode: a conversation with a chat
 * model (a generated tiny-qwen2: random weights, greedy, so the same text on every host)
 * survives a reload and a restart of `pxi serve`, with its model, settings and system message;
 * a reply cut off by a reload keeps what was shown; replies render Markdown as DOM (code blocks
 * with Copy, lists, headings, links as text; HTML stays text); messages are copied, edited and
 * resent, regenerated; conversations are renamed, exported (the downloaded Markdown and JSON)
 * and deleted; the transcript fills the window's height with the composer at its bottom.
 */
import { expect, test, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../support/fixtures';
import { callServices, serveDataDir, type ServeProcess } from './serve-fixture';

let dataDir = '';
let serve: ServeProcess | null = null;
let url = '';
let port = 0;

/** Starts `pxi serve` on the data folder (again after a stop: a restart). */
async function startServe(): Promise<void> {
  serve = await serveDataDir(dataDir);
  ({ url, port } = serve);
}

async function stopServe(): Promise<void> {
  const s = serve;
  serve = null;
  await s?.stop();
}

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-conversations-'));
  const tiny = join(dataDir, 'tiny-qwen2.gguf');
  const pxi = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['bin/pxi.js', ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, `pxi ${args.join(' ')}: ${r.stderr}`).toBe(0);
  };
  pxi('gen', '--preset', 'tiny-qwen2', '--type', 'F32', '--quiet', '-o', tiny);
  pxi('import', tiny, '--volume', join(dataDir, 'volume'), '--skip-pyramid');
  await startServe();
});

test.afterAll(async () => {
  await stopServe();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A call to the services through the page's own origin and token (the contract the UI uses). */
function call<T>(page: Page, channel: string, payload: unknown): Promise<T> {
  return callServices<T>(page, port, channel, payload);
}

/** A fresh load of the page at `hash` (never a same-document hash change). */
async function openChat(page: Page, hash = '#/chat'): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${url}${hash}`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page.locator('#view')).toHaveAttribute('data-view', 'chat');
}

async function ready(page: Page): Promise<void> {
  await expect(page.locator('#chat-engine-status')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
}

async function say(page: Page, text: string, replyIndex: number): Promise<string> {
  await page.locator('#chat-prompt').fill(text);
  await page.locator('#chat-prompt').press('Enter');
  const reply = page.locator('.chat-turn.assistant .chat-reply').nth(replyIndex);
  await expect(reply).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  return (await reply.textContent()) ?? '';
}

const conversationId = (page: Page) => Number(new URL(page.url()).hash.match(/conversation=(\d+)/)?.[1] ?? NaN);

const settings = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, maxTokens: 256, seed: null };

test('a conversation is kept: it survives a reload and a server restart with its model, settings and system message', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await openChat(page, '#/chat?model=tiny-qwen2');
  await ready(page);
  await expect(page.locator('#chat-conversation-title')).toHaveText('New conversation');
  await expect(page.locator('#chat-rename')).toBeDisabled();
  await page.locator('#chat-system').fill('Answer in one word.');
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('8');
  await page.locator('#chat-seed').fill('1234');
  const first = await say(page, 'hi', 0);
  // Created with the first message, named after it, and in the address.
  await expect(page.locator('#chat-conversation-title')).toHaveText('hi');
  await expect(page.locator('.chat-conversation[aria-current="true"]')).toContainText('hi');
  await expect.poll(() => conversationId(page)).toBeGreaterThan(0);
  const id = conversationId(page);
  const second = await say(page, 'tell me more', 1);
  // One stats line per reply: time to first token, prefill and decode speed.
  const statsLine = page.locator('.chat-turn.assistant .turn-stats').nth(1);
  await expect(statsLine).toHaveText(/^first token [\d.]+ s · prefill \d+ tokens, [\d.]+ tokens\/s · decode \d+ tokens, ([\d.]+|–) tokens\/s · stop: max tokens · seed 1234$/);
  await expect(page.locator('.chat-conversation[aria-current="true"]')).toContainText('4 messages');

  const expectConversation = async () => {
    await expect(page.locator('.chat-turn.user .chat-text')).toHaveText(['hi', 'tell me more']);
    await expect(page.locator('.chat-turn.assistant .chat-reply')).toHaveText([first, second]);
    await expect(page.locator('.chat-turn.assistant .turn-stats').nth(0)).toContainText('first token');
    await expect(page.locator('#chat-conversation-title')).toHaveText('hi');
    await expect(page.locator('#chat-system')).toHaveValue('Answer in one word.');
    await expect(page.locator('#chat-system')).toBeDisabled();
    await expect(page.locator('#chat-temperature')).toHaveValue('0');
    await expect(page.locator('#chat-maxTokens')).toHaveValue('8');
    await expect(page.locator('#chat-seed')).toHaveValue('1234');
    await expect(page.locator('#chat-model option:checked')).toContainText('tiny-qwen2');
  };

  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  expect(conversationId(page)).toBe(id);
  await expectConversation();
  // Its model is loaded again, and the conversation goes on from what is on screen.
  await ready(page);
  const third = await say(page, 'and then?', 2);
  await expect(page.locator('.chat-turn.assistant .chat-reply')).toHaveCount(3);

  await stopServe();
  await startServe();
  await openChat(page, `#/chat?conversation=${id}`);
  await expect(page.locator('.chat-turn.assistant .chat-reply')).toHaveText([first, second, third]);
  await expect(page.locator('#chat-conversation-title')).toHaveText('hi');

  // A fresh page with no conversation named: the last model and settings are back.
  await openChat(page);
  await ready(page);
  await expect(page.locator('#chat-model option:checked')).toContainText('tiny-qwen2');
  await expect(page.locator('#chat-temperature')).toHaveValue('0');
  await expect(page.locator('#chat-maxTokens')).toHaveValue('8');
  await expect(page.locator('.chat-turn')).toHaveCount(0);
  await expect(page.locator(`.chat-conversation[data-id="${id}"]`)).toContainText('6 messages');
  await page.locator(`.chat-conversation[data-id="${id}"]`).click();
  await expect(page.locator('.chat-turn.assistant .chat-reply')).toHaveText([first, second, third]);
  expect(conversationId(page)).toBe(id);
  expect(errors).toEqual([]);
});

test('rename, export as Markdown and JSON (downloads), delete', async ({ page }) => {
  test.setTimeout(120_000);
  await openChat(page, '#/chat?model=tiny-qwen2');
  await ready(page);
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('6');
  const reply = await say(page, 'Write a haiku', 0);
  await expect.poll(() => conversationId(page)).toBeGreaterThan(0);
  const id = conversationId(page);

  // Any text is a title, shown as text.
  await page.locator('#chat-rename').click();
  const dialog = page.locator('dialog');
  await expect(dialog).toBeVisible();
  await dialog.locator('input').fill('x'.repeat(201));
  await dialog.getByRole('button', { name: 'Rename' }).click();
  await expect(dialog).toContainText('A title is at most 200 characters');
  await dialog.locator('input').fill('<img src=x onerror="window.pwned=1"> Haiku & co');
  await dialog.getByRole('button', { name: 'Rename' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator('#chat-conversation-title')).toHaveText('<img src=x onerror="window.pwned=1"> Haiku & co');
  await expect(page.locator(`.chat-conversation[data-id="${id}"]`)).toContainText('<img src=x');
  expect(await page.locator('#view img').count()).toBe(0);

  const [md] = await Promise.all([page.waitForEvent('download'), page.locator('#chat-export-md').click()]);
  expect(md.suggestedFilename()).toBe('img src-x onerror-window.pwned-1- Haiku - co.md');
  const text = readFileSync((await md.path())!, 'utf8');
  expect(text).toContain('# <img src=x onerror="window.pwned=1"> Haiku & co\n');
  expect(text).toContain('- Model: tiny-qwen2 (');
  expect(text).toContain('- Sampling: temperature 0 · top-k 40 · top-p 0.95 · min-p 0.05 · repeat penalty 1 · max tokens 6 · seed random');
  expect(text).toContain(`## You\n\nWrite a haiku\n\n## Model\n\n${reply}\n\n*first token `);
  await expect(page.locator('#chat-notice')).toHaveText(/Downloaded .*\.md\./);

  const [json] = await Promise.all([page.waitForEvent('download'), page.locator('#chat-export-json').click()]);
  const doc = JSON.parse(readFileSync((await json.path())!, 'utf8'));
  expect(doc).toMatchObject({ format: 'pixel-llm-conversation', version: 1, conversation: { id, mode: 'chat', model: { name: 'tiny-qwen2' } } });
  expect(doc.conversation.messages.map((m: { role: string; text: string }) => [m.role, m.text])).toEqual([
    ['user', 'Write a haiku'],
    ['assistant', reply],
  ]);

  // Delete asks first (Cancel keeps it), then removes it from the list and the store.
  await page.locator('#chat-delete').click();
  await expect(dialog).toContainText('will be deleted');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.locator(`.chat-conversation[data-id="${id}"]`)).toHaveCount(1);
  await page.locator('#chat-delete').click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(page.locator(`.chat-conversation[data-id="${id}"]`)).toHaveCount(0);
  await expect(page.locator('.chat-turn')).toHaveCount(0);
  await expect(page.locator('#chat-notice')).toContainText('Deleted');
  expect(new URL(page.url()).hash).toBe('#/chat');
  await expect(call(page, 'conversations:get', { id })).rejects.toThrow(/does not exist/);
  expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
});

test('replies render Markdown as DOM: code blocks with Copy, lists, headings, links as text; HTML stays text', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(url).origin });
  await openChat(page);
  const code = 'fn main() {\n    println!("<b>{}</b>", 1 < 2);\n}';
  const markdown = [
    '# Plan',
    '',
    'Some **bold**, *em* and `inline <code>` with [a link](https://example.com/docs) and <https://x.org>.',
    '',
    '```rust',
    code,
    '```',
    '',
    '1. first',
    '2. second',
    '   - nested *item*',
    '     - deeper',
    '',
    '> quoted <script>window.pwned = 1</script>',
    '',
    '<img src=x onerror="window.pwned=2"> and ![cat](http://127.0.0.1:1/cat.png)',
    '',
    '```python',
    'print("unclosed fence")',
  ].join('\n');
  const c = await call<{ id: number }>(page, 'conversations:create', {
    title: 'Markdown',
    modelId: 'not-a-model',
    modelName: 'gone',
    mode: 'chat',
    system: '',
    settings,
    messages: [
      { role: 'user', text: 'Show me **markdown** <b>as typed</b>' },
      { role: 'assistant', text: markdown },
    ],
  });
  await openChat(page, `#/chat?conversation=${c.id}`);
  const reply = page.locator('.chat-turn.assistant .chat-reply');
  await expect(reply.locator('.md [role="heading"]')).toHaveText('Plan');
  await expect(reply.locator('.md strong').first()).toHaveText('bold');
  await expect(reply.locator('.md em').first()).toHaveText('em');
  await expect(reply.locator('.md-inline-code')).toHaveText('inline <code>');
  await expect(reply.locator('.md-link').first()).toHaveText('a link (https://example.com/docs)');
  await expect(reply.locator('.md-link').nth(1)).toHaveText('https://x.org');
  await expect(reply.locator('.md-link.md-image')).toHaveText('[image: cat] (http://127.0.0.1:1/cat.png)');
  await expect(reply.locator('.md > ol > li')).toHaveCount(2);
  await expect(reply.locator('.md ol ul li').first()).toContainText('nested item');
  await expect(reply.locator('.md ol ul ul li')).toHaveText('deeper');
  await expect(reply.locator('.md blockquote')).toHaveText('quoted <script>window.pwned = 1</script>');
  await expect(reply.locator('.md p').last()).toContainText('<img src=x onerror="window.pwned=2">');
  // Nothing to follow or load: no anchors, no images, no scripts from the text.
  expect(await page.locator('#chat-log a, #chat-log img, #chat-log script').count()).toBe(0);
  // The user's message is shown as typed.
  await expect(page.locator('.chat-turn.user .chat-text')).toHaveText('Show me **markdown** <b>as typed</b>');

  const blocks = reply.locator('.md-code');
  await expect(blocks).toHaveCount(2);
  await expect(blocks.first().locator('.md-code-lang')).toHaveText('rust');
  await expect(blocks.first().locator('pre code')).toHaveText(code);
  await expect(blocks.nth(1)).toHaveAttribute('data-open', 'true');
  await expect(blocks.nth(1).locator('pre code')).toHaveText('print("unclosed fence")');
  await blocks.first().getByRole('button', { name: 'Copy rust code' }).click();
  await expect(blocks.first().locator('.md-copy')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(code);
  // Copy on the message copies its Markdown source.
  await page.locator('.chat-turn.assistant [title^="Copy this reply"]').click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(markdown);
  // Its model is gone: the messages are shown, nothing is loaded.
  await expect(page.locator('#chat-engine-status')).toHaveAttribute('data-state', 'empty');
  await expect(page.locator('#chat-model-gone')).toContainText('Its model (gone) is no longer in the volume');
  await page.screenshot({ path: test.info().outputPath('chat-markdown.png') });
  expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
});

test('edit and resend, regenerate; the store follows', async ({ page }) => {
  test.setTimeout(120_000);
  await openChat(page, '#/chat?model=tiny-qwen2');
  await ready(page);
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('6');
  const a = await say(page, 'hi', 0);
  await say(page, 'tell me more', 1);
  await expect.poll(() => conversationId(page)).toBeGreaterThan(0);
  const id = conversationId(page);

  // Regenerate the first reply: the two messages after it go (asked first), the reply comes again.
  await page.locator('.chat-turn.assistant').first().getByRole('button', { name: 'Regenerate' }).click();
  const dialog = page.locator('dialog');
  await expect(dialog).toContainText('The 2 messages after it will be removed');
  await dialog.getByRole('button', { name: 'Regenerate' }).click();
  await expect(page.locator('.chat-turn.assistant .chat-reply')).toHaveCount(1);
  await expect(page.locator('.chat-turn.assistant .chat-reply').first()).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  // Greedy, the same conversation before it: the same reply.
  await expect(page.locator('.chat-turn.assistant .chat-reply')).toHaveText([a]);
  await expect(page.locator('.chat-turn.user .chat-text')).toHaveText(['hi']);

  // Edit the user message and send it again: it and its reply are replaced.
  await page.locator('.chat-turn.user').first().getByRole('button', { name: 'Edit' }).click();
  const editor = page.locator('.chat-edit textarea');
  await expect(editor).toBeFocused();
  await editor.fill('hello there');
  await page.locator('.chat-edit-send').click();
  await expect(page.locator('.chat-turn.assistant .chat-reply').first()).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await expect(page.locator('.chat-turn.user .chat-text')).toHaveText(['hello there']);
  await expect(page.locator('.chat-turn.assistant')).toHaveCount(1);
  const edited = (await page.locator('.chat-turn.assistant .chat-reply').first().textContent()) ?? '';
  await expect
    .poll(async () => (await call<{ messages: { role: string; text: string; state: string }[] }>(page, 'conversations:get', { id })).messages.map((m) => [m.role, m.text, m.state]))
    .toEqual([
      ['user', 'hello there', 'done'],
      ['assistant', edited, 'done'],
    ]);
});

test('a reply cut off by a reload keeps what was shown, marked interrupted; leaving mid-reply asks first', async ({ page }) => {
  test.setTimeout(180_000);
  await openChat(page, '#/chat?model=tiny-qwen2');
  await ready(page);
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('3000');
  await page.locator('#chat-prompt').fill('tell me a long story');
  await page.locator('#chat-prompt').press('Enter');
  const reply = page.locator('.chat-turn.assistant .chat-reply').last();
  await expect.poll(async () => ((await reply.textContent()) ?? '').length, { timeout: 60_000 }).toBeGreaterThan(40);
  await expect.poll(() => conversationId(page)).toBeGreaterThan(0);
  const id = conversationId(page);

  // Another view from the navigation: asked first; Cancel stays in Chat, the reply going on.
  await page.locator('nav a[data-view="models"]').click();
  const dialog = page.locator('dialog');
  await expect(dialog).toContainText('A reply is being generated');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.locator('#view')).toHaveAttribute('data-view', 'chat');
  await expect(reply).toHaveAttribute('data-state', 'streaming');

  // Reloading mid-reply: the browser asks (beforeunload); leaving keeps the reply as far as it was shown.
  const asked = new Promise<string>((resolve) => page.once('dialog', (d) => (resolve(d.type()), void d.accept())));
  const shown = (await reply.textContent()) ?? '';
  await page.reload();
  expect(await asked).toBe('beforeunload');
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  const kept = page.locator('.chat-turn.assistant .chat-reply').last();
  await expect(kept).toHaveAttribute('data-state', 'incomplete');
  const keptText = (await kept.textContent()) ?? '';
  expect(keptText.startsWith(shown), `kept ${keptText.length} characters, ${shown.length} were shown`).toBe(true);
  await expect(page.locator('.chat-turn.assistant .turn-stats').last()).toContainText('Interrupted');
  const stored = await call<{ messages: { text: string; state: string }[] }>(page, 'conversations:get', { id });
  expect(stored.messages.at(-1)).toMatchObject({ state: 'incomplete', text: keptText });
  await page.screenshot({ path: test.info().outputPath('chat-interrupted.png') });
});

test('the transcript fills the window height and the composer stays at its bottom, at 1280x720 and 1920x1080', async ({ page }) => {
  await openChat(page, '#/chat?model=tiny-qwen2');
  await ready(page);
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('4');
  for (let i = 0; i < 8; i++) await say(page, `message ${i}\nwith a second line`, i);
  const gaps: number[] = [];
  for (const [width, height] of [
    [1280, 720],
    [1920, 1080],
  ] as const) {
    await page.setViewportSize({ width, height });
    const layout = await page.evaluate(() => {
      const box = (id: string) => document.getElementById(id)!.getBoundingClientRect();
      const view = document.getElementById('view')!;
      const log = document.getElementById('chat-log')!;
      return {
        pageScroll: document.documentElement.scrollHeight - document.documentElement.clientHeight,
        viewScroll: view.scrollHeight - view.clientHeight,
        viewWide: view.scrollWidth - view.clientWidth,
        viewBottom: view.getBoundingClientRect().bottom,
        promptBottom: box('chat-prompt').bottom,
        statsBottom: box('chat-stats').bottom,
        logTop: box('chat-log').top,
        logBottom: box('chat-log').bottom,
        formTop: document.querySelector('.chat-form')!.getBoundingClientRect().top,
        logScrolls: log.scrollHeight > log.clientHeight,
        logAtEnd: Math.abs(log.scrollHeight - log.clientHeight - log.scrollTop) < 2,
      };
    });
    expect(layout.pageScroll, `${width}x${height}`).toBe(0);
    expect(layout.viewScroll).toBe(0);
    expect(layout.viewWide).toBe(0);
    // The composer sits at the bottom of the view, the transcript right above it, taking the height.
    // The transcript takes every pixel the rest leaves: right above the composer, whose stats
    // line ends at the view's bottom padding.
    expect(layout.viewBottom - layout.promptBottom).toBeLessThan(100);
    expect(layout.viewBottom - layout.statsBottom).toBeLessThan(20);
    gaps.push(layout.viewBottom - layout.statsBottom);
    expect(layout.formTop - layout.logBottom).toBeLessThan(20);
    expect(layout.logBottom - layout.logTop).toBeGreaterThan(height * 0.25);
    expect(layout.logScrolls).toBe(true);
    expect(layout.logAtEnd).toBe(true);
    await page.screenshot({ path: test.info().outputPath(`chat-${width}x${height}.png`) });
  }
  // Pinned: what is under the composer (the stats line) ends at the same distance from the bottom.
  expect(Math.abs(gaps[0]! - gaps[1]!)).toBeLessThan(2);
});
