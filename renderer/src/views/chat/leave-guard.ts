import { confirmDialog } from '../../components/dialog';

/**
 * Warnings before a reply being generated is left. Closing or reloading the page ends the
 * reply, so the browser asks first (`beforeunload`; the desktop app shows its own question for
 * it). Going to another view does not end it (it goes on and is saved when it ends), but a
 * click on a navigation link while it runs asks once, so nobody leaves it by surprise.
 */

let busy: () => boolean = () => false;
let installed = false;

/** Asks before the page unloads while `isBusy()` holds (one listener for the page's lifetime). */
export function warnBeforeUnload(isBusy: () => boolean): void {
  busy = isBusy;
  if (installed) return;
  installed = true;
  window.addEventListener('beforeunload', (ev) => {
    if (!busy()) return;
    ev.preventDefault();
    // Older engines read returnValue; the text itself is never shown.
    ev.returnValue = '';
  });
}

/**
 * While the view `root` is on screen, a click on an in-app link outside it (`#/…`) asks before
 * leaving when `isBusy()` holds. Returns the function that removes the guard.
 */
export function confirmLeavingView(root: HTMLElement, isBusy: () => boolean): () => void {
  const onClick = (ev: MouseEvent) => {
    if (!isBusy() || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const link = ev.target instanceof Element ? ev.target.closest<HTMLAnchorElement>('a[href^="#/"]') : null;
    if (!link || root.contains(link)) return;
    ev.preventDefault();
    const href = link.getAttribute('href')!;
    void confirmDialog({
      title: 'A reply is being generated',
      message: 'It goes on while you are away and is saved when it ends. Leave Chat anyway?',
      confirmLabel: 'Leave Chat',
    }).then((leave) => {
      if (leave) location.hash = href;
    });
  };
  document.addEventListener('click', onClick, true);
  return () => document.removeEventListener('click', onClick, true);
}
