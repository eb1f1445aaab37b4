import { _electron as electron, expect, test } from '@playwright/test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findElectronBinary } from '../../scripts/electron-binary';
import { projectRoot } from '../support/fixtures';

const binary = findElectronBinary(projectRoot);

test.describe('Electron app', () => {
  test.skip(binary.path === null, binary.path === null ? `skipped: ${binary.reason}` : '');

  test('the window opens hardened, and the renderer reaches the services only through the bridge', async () => {
    const main = join(projectRoot, 'out', 'main', 'index.js');
    expect(existsSync(main), 'run electron-vite build first').toBe(true);
    const app = await electron.launch({ executablePath: binary.path!, args: [projectRoot], cwd: projectRoot });
    try {
      const page = await app.firstWindow();
      await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
      expect(page.url()).toMatch(/^app:\/\/pixel-llm\//);
      const probe = await page.evaluate(() => ({
        require: typeof (globalThis as { require?: unknown }).require,
        process: typeof (globalThis as { process?: unknown }).process,
        bridgeKeys: Object.keys((window as unknown as { pxiBridge: object }).pxiBridge).sort(),
      }));
      expect(probe).toEqual({ require: 'undefined', process: 'undefined', bridgeKeys: ['invoke', 'subscribe'] });
      const unknown = await page.evaluate(() =>
        (window as unknown as { pxiBridge: { invoke(c: string, p: unknown): Promise<{ ok: boolean; error?: { code: string } }> } }).pxiBridge.invoke('fs:read', {}),
      );
      expect(unknown.error?.code).toBe('IPC_UNKNOWN_CHANNEL');
      await expect(page.locator('#status')).toContainText('desktop');
      const secure = await app.evaluate(({ BrowserWindow }) => {
        const w = BrowserWindow.getAllWindows()[0]!;
        return { count: BrowserWindow.getAllWindows().length, url: w.webContents.getURL() };
      });
      expect(secure).toEqual({ count: 1, url: expect.stringMatching(/^app:\/\/pixel-llm\//) });
      // Navigation away is refused: wait for the main process's will-navigate for that URL (its
      // guard, registered first, has run by then), then the page is still on our origin.
      const refused = app.evaluate(
        ({ BrowserWindow }) =>
          new Promise<{ url: string; prevented: boolean }>((resolve) => {
            BrowserWindow.getAllWindows()[0]!.webContents.once('will-navigate', (event, url) => resolve({ url, prevented: event.defaultPrevented }));
          }),
      );
      await page.evaluate(() => {
        location.href = 'https://example.com/';
      });
      expect(await refused).toEqual({ url: 'https://example.com/', prevented: true });
      expect(page.url()).toMatch(/^app:\/\/pixel-llm\//);
    } finally {
      await app.close();
    }
  });
});
