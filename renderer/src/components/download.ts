/**
 * Saves text as a file on the browser's machine (browser mode): a Blob behind a temporary
 * object URL, followed by an `<a download>` that is never added to the page. The browser
 * downloads it; the page does not navigate.
 */
export function downloadText(fileName: string, mimeType: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: mimeType }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  a.click();
  // The download has taken the bytes once the click is handled.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Saves a file the server sends (browser mode's model download) through an `<a download>` to
 * its same-origin URL: the browser streams it to disk with its own progress, the page stays.
 */
export function downloadFromServer(url: string, fileName: string): void {
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  a.click();
}
