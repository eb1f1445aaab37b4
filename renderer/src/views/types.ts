import type { PxiApi } from '../../../shared/ipc/client';

export interface ViewContext {
  api: PxiApi;
  /** Shows an error where the user is looking: at the top of the current view. */
  showError(message: string): void;
}

export interface View {
  id: string;
  title: string;
  /** Renders into the view container; may return a cleanup function. */
  render(root: HTMLElement, ctx: ViewContext): Promise<void | (() => void)> | void | (() => void);
}
