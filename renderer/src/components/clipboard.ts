/**
 * Copies text to the clipboard: the asynchronous Clipboard API where the page may use it, else
 * a selected off-screen textarea and the copy command (the desktop app grants the page no
 * permission, so the API refuses there). Resolves whether the text was copied.
 */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Refused (no permission, no focus): try the command below.
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.left = '-10000px';
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  focused?.focus();
  return ok;
}

/** A button that copies what `text()` returns, saying "Copied" (or that it failed) for a moment. */
export function copyButton(label: string, text: () => string, opts: { className?: string; title?: string } = {}): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = opts.className ?? 'btn';
  b.textContent = label;
  if (opts.title) b.title = opts.title;
  let timer: ReturnType<typeof setTimeout> | undefined;
  b.addEventListener('click', () => {
    void copyText(text()).then((ok) => {
      b.textContent = ok ? 'Copied' : 'Copy failed';
      b.dataset.copied = ok ? 'true' : 'false';
      clearTimeout(timer);
      timer = setTimeout(() => {
        b.textContent = label;
        delete b.dataset.copied;
      }, 1500);
    });
  });
  return b;
}
