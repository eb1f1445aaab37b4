import { describe, expect, it } from 'vitest';
import { contentDisposition, downloadFileName } from '../../electron/web/model-download';

describe('the download file name (browser mode)', () => {
  it('is the model name with .gguf, reduced to safe characters', () => {
    expect(downloadFileName('stories260K')).toBe('stories260K.gguf');
    expect(downloadFileName('model.gguf')).toBe('model.gguf');
    expect(downloadFileName('../../etc/passwd')).toBe('_.._etc_passwd.gguf');
    expect(downloadFileName('a"b\r\nc')).toBe('a_b_c.gguf');
    expect(downloadFileName('...')).toBe('model.gguf');
  });

  it('keeps the original name as filename* and no quote or line break in the header', () => {
    const h = contentDisposition('Qwen 3 «small»');
    expect(h).toBe(`attachment; filename="Qwen 3 _small_.gguf"; filename*=UTF-8''Qwen%203%20%C2%ABsmall%C2%BB.gguf`);
    expect(contentDisposition('x"\r\ny')).not.toMatch(/[\r\n]|"[^;]*"[^;]*"/);
  });
});
