import { parseMarkdown, type Block, type Inline } from '../../../shared/markdown/parse';
import { copyButton } from './clipboard';

/**
 * Markdown as DOM nodes, for model replies: the tree of shared/markdown/parse.ts built with
 * createElement and text nodes only (never innerHTML), so any text, tags included, shows as
 * text. Code blocks get a Copy button; links and images show their text and their URL, and
 * nothing is followed or loaded. Headings are `role="heading"` two levels below the view's own.
 */

function inlineNodes(nodes: Inline[]): Node[] {
  const out: Node[] = [];
  for (const n of nodes) {
    switch (n.type) {
      case 'text':
        out.push(document.createTextNode(n.text));
        break;
      case 'break':
        out.push(document.createElement('br'));
        break;
      case 'code': {
        const c = document.createElement('code');
        c.className = 'md-inline-code';
        c.textContent = n.text;
        out.push(c);
        break;
      }
      case 'em':
      case 'strong': {
        const e = document.createElement(n.type);
        e.append(...inlineNodes(n.children));
        out.push(e);
        break;
      }
      case 'link': {
        const span = document.createElement('span');
        span.className = n.image ? 'md-link md-image' : 'md-link';
        const label = document.createElement('span');
        label.className = 'md-link-text';
        if (n.image) label.append('[image: ', ...inlineNodes(n.children), ']');
        else label.append(...inlineNodes(n.children));
        span.append(label);
        const shown = label.textContent ?? '';
        if (shown !== n.url) {
          const url = document.createElement('span');
          url.className = 'md-url';
          url.textContent = ` (${n.url})`;
          span.append(url);
        }
        span.title = n.url;
        out.push(span);
        break;
      }
    }
  }
  return out;
}

function codeBlock(b: Extract<Block, { type: 'code' }>): HTMLElement {
  const box = document.createElement('div');
  box.className = 'md-code';
  box.dataset.lang = b.lang;
  if (!b.closed) box.dataset.open = 'true';
  const head = document.createElement('div');
  head.className = 'md-code-head';
  const lang = document.createElement('span');
  lang.className = 'md-code-lang';
  lang.textContent = b.lang || 'code';
  const copy = copyButton('Copy', () => b.text, { className: 'md-copy', title: 'Copy this code' });
  copy.setAttribute('aria-label', `Copy ${b.lang ? `${b.lang} ` : ''}code`);
  head.append(lang, copy);
  const pre = document.createElement('pre');
  const code = document.createElement('code');
  code.textContent = b.text;
  pre.append(code);
  box.append(head, pre);
  return box;
}

function blockNodes(blocks: Block[]): Node[] {
  return blocks.map((b): Node => {
    switch (b.type) {
      case 'paragraph': {
        const p = document.createElement('p');
        p.append(...inlineNodes(b.children));
        return p;
      }
      case 'heading': {
        const h = document.createElement('div');
        h.className = `md-heading md-h${b.level}`;
        h.setAttribute('role', 'heading');
        h.setAttribute('aria-level', String(Math.min(6, b.level + 2)));
        h.append(...inlineNodes(b.children));
        return h;
      }
      case 'code':
        return codeBlock(b);
      case 'list': {
        const list = document.createElement(b.ordered ? 'ol' : 'ul');
        if (b.ordered && b.start !== 1) (list as HTMLOListElement).start = b.start;
        for (const item of b.items) {
          const li = document.createElement('li');
          // A one-paragraph item shows its text directly (a tight list).
          const only = item.length === 1 ? item[0] : undefined;
          li.append(...(only?.type === 'paragraph' ? inlineNodes(only.children) : blockNodes(item)));
          list.append(li);
        }
        return list;
      }
      case 'quote': {
        const q = document.createElement('blockquote');
        q.append(...blockNodes(b.children));
        return q;
      }
      case 'rule':
        return document.createElement('hr');
    }
  });
}

/** `text` read as Markdown, as a `div.md` of DOM nodes. */
export function renderMarkdown(text: string): HTMLElement {
  const root = document.createElement('div');
  root.className = 'md';
  root.append(...blockNodes(parseMarkdown(text)));
  return root;
}
