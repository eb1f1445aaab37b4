import { Template } from '@huggingface/jinja';
import { TokenizerError } from './errors';

export interface ChatMessage {
  role: string;
  content: string;
  /** Extra fields some templates read (tool_calls, name, …). */
  [key: string]: unknown;
}

export interface ChatRenderOptions {
  /** Append the opening of the assistant's turn, so the model writes the reply. */
  addGenerationPrompt?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** Further variables for the template (tools, enable_thinking, …). */
  extra?: Record<string, unknown>;
}

/** A parsed chat template (`tokenizer.chat_template`), ready to render many times. */
export class ChatTemplate {
  private readonly template: Template;

  constructor(readonly source: string) {
    if (typeof source !== 'string') {
      throw new TokenizerError('CHAT_TEMPLATE_PARSE', 'chat template is not a string', { value: typeof source });
    }
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new TokenizerError('CHAT_TEMPLATE_PARSE', `chat template does not parse: ${errorText(e)}`, {
        reason: errorText(e),
        template: source.slice(0, 200),
      });
    }
  }

  render(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
    try {
      return this.template.render({
        ...options.extra,
        messages,
        add_generation_prompt: options.addGenerationPrompt ?? false,
        bos_token: options.bosToken ?? '',
        eos_token: options.eosToken ?? '',
      });
    } catch (e) {
      // raise_exception() in a template lands here too, with the template's own message.
      throw new TokenizerError('CHAT_TEMPLATE_RENDER', `chat template failed while rendering: ${errorText(e)}`, {
        reason: errorText(e),
      });
    }
  }
}

/** Parses and renders in one call; see {@link ChatTemplate} to parse once and render often. */
export function renderChat(template: string, messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
  return new ChatTemplate(template).render(messages, options);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
