import { z } from 'zod';
import { STOP_REASONS, type GenerationTimings } from '../../engine/outcome';
import { Empty } from './common';
import { AdapterRef } from './models';

/**
 * Chat conversations kept by the services (electron/conversations/store.ts, a SQLite file in
 * the volume folder beside the model store's database): each with its model, mode, sampling settings and system message, and its
 * messages in order. The Chat view creates one on the first message, appends each message,
 * saves a streaming reply as it grows (so a crash keeps what was shown), and lists, renames,
 * deletes and exports them. The last model and settings used are kept too (`defaults`).
 *
 * A conversation may name a LoRA adapter stored beside its model (`adapter`: its name and the
 * scale it is applied at), so reopening it loads the same adapter; null is the base model alone.
 *
 * Every text crosses as a plain string of any content (titles and messages are shown as text,
 * never markup); sizes are bounded by CONVERSATION_LIMITS here and again by the store.
 */

/** Caps on what is stored and what one answer may hold (UTF-16 code units for texts). */
export const CONVERSATION_LIMITS = Object.freeze({
  titleChars: 200,
  systemChars: 32 * 1024,
  messageChars: 256 * 1024,
  /** Title, system message and every message of one conversation together. */
  conversationChars: 2 * 1024 * 1024,
  messages: 2000,
  conversations: 5000,
  modelIdChars: 256,
  /** Messages one append may add (a user message and the reply that starts streaming). */
  appendMessages: 4,
  pathChars: 4096,
});

/** The stable codes of the store's refusals. */
export const CONVERSATION_ERRORS = Object.freeze({
  NOT_FOUND: 'CONVERSATION_NOT_FOUND',
  MESSAGE_NOT_FOUND: 'CONVERSATION_MESSAGE_NOT_FOUND',
  TOO_LARGE: 'CONVERSATION_TOO_LARGE',
  TOO_MANY: 'CONVERSATION_TOO_MANY',
  BAD_PATH: 'CONVERSATION_BAD_PATH',
  FILE_EXISTS: 'CONVERSATION_FILE_EXISTS',
  SCHEMA_NEWER: 'CONVERSATION_SCHEMA_NEWER',
  BAD_ADAPTER: 'CONVERSATION_BAD_ADAPTER',
});

const L = CONVERSATION_LIMITS;
const Id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const Time = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Figure = z.number().finite();

export const Title = z.string().max(L.titleChars, `a title is at most ${L.titleChars} characters`);
export const SystemText = z.string().max(L.systemChars, `a system message is at most ${L.systemChars} characters`);
export const MessageText = z.string().max(L.messageChars, `a message is at most ${L.messageChars} characters`);
const ModelId = z.string().min(1).max(L.modelIdChars);
const ModelName = z.string().max(L.modelIdChars);

/** 'chat': turns through the model's chat template; 'completion': the text is continued. */
export const ChatMode = z.enum(['chat', 'completion']);

/** The context lengths (tokens the KV cache holds) a conversation may ask for. */
export const CONTEXT_LIMITS = Object.freeze({ min: 16, max: 1_048_576 });

/**
 * The sampling settings of the Chat view (llama.cpp's names); `seed` null means a random one per
 * reply. `contextLength` is the conversation's context (null: the engine's default for the
 * model): each conversation loads the model with its own; settings stored before it existed
 * read as null.
 */
export const ChatSettings = z.strictObject({
  temperature: Figure.min(0).max(1000),
  topK: z.number().int().min(0).max(1_000_000),
  topP: Figure.gt(0).max(1),
  minP: Figure.min(0).max(1),
  repeatPenalty: Figure.gt(0).max(1000),
  maxTokens: z.number().int().min(1).max(10_000_000),
  seed: z.number().int().min(0).max(0xffffffff).nullable(),
  contextLength: z.number().int().min(CONTEXT_LIMITS.min).max(CONTEXT_LIMITS.max).nullable().default(null),
});

/** The largest adapter scale kept either way (llama.cpp takes any finite scale; 0 leaves the model as it is). */
export const MAX_ADAPTER_SCALE = 1000;

/** A LoRA adapter stored beside the conversation's model (by name), and the scale it is applied at. */
export const ChatAdapter = z.strictObject({
  name: AdapterRef.shape.name,
  scale: Figure.min(-MAX_ADAPTER_SCALE).max(MAX_ADAPTER_SCALE),
});

export const MessageRole = z.enum(['user', 'assistant']);
/** A reply is 'streaming' while generated, 'incomplete' when that was cut off (a crash, a reload), 'error' when it failed. */
export const MessageState = z.enum(['done', 'streaming', 'incomplete', 'error']);
export const StopReason = z.enum(STOP_REASONS);

/** The engine's GenerationTimings as stored: `satisfies` makes a field added there fail to compile here. */
const ReplyTimings = z.strictObject({
  promptTokens: Count,
  prefillMs: Figure.nonnegative(),
  prefillTokensPerSecond: Figure.nonnegative(),
  decodeTokens: Count,
  decodeMs: Figure.nonnegative(),
  decodeTokensPerSecond: Figure.nonnegative(),
}) satisfies z.ZodType<GenerationTimings>;

/** What the engine measured of one reply, and the seed it sampled with. */
export const ReplyStats = z.strictObject({
  /** From sending to the first token on screen (null when the reply had no token). */
  timeToFirstTokenMs: Figure.nonnegative().nullable(),
  ...ReplyTimings.shape,
  stopReason: StopReason,
  seed: z.number().int().min(0).max(0xffffffff),
});

const ErrorText = z.string().max(4000);

export const ConversationMessage = z.strictObject({
  id: Id,
  role: MessageRole,
  text: MessageText,
  state: MessageState,
  stats: ReplyStats.nullable(),
  error: ErrorText.nullable(),
  createdAt: Time,
  updatedAt: Time,
});

export const ConversationSummary = z.strictObject({
  id: Id,
  title: Title,
  modelId: ModelId,
  /** The model's name when the conversation was last used (the model may since be deleted). */
  modelName: ModelName,
  /** The adapter applied over the model (it may since be deleted), or null. */
  adapter: ChatAdapter.nullable().default(null),
  mode: ChatMode,
  messageCount: Count,
  createdAt: Time,
  updatedAt: Time,
});

export const Conversation = ConversationSummary.extend({
  system: SystemText,
  settings: ChatSettings,
  messages: z.array(ConversationMessage).max(L.messages),
});

export const NewMessage = z.strictObject({
  role: MessageRole,
  text: MessageText,
  state: MessageState.default('done'),
  stats: ReplyStats.nullable().default(null),
  error: ErrorText.nullable().default(null),
});

/** The last model and settings the Chat view used, for the next visit. */
export const ChatDefaults = z.strictObject({
  modelId: ModelId,
  adapter: ChatAdapter.nullable().default(null),
  mode: ChatMode,
  settings: ChatSettings,
});

export const ExportFormat = z.enum(['markdown', 'json']);

const ConversationRef = z.strictObject({ id: Id });
const MessageRef = { conversationId: Id, messageId: Id };

export const conversationChannels = {
  /** Every conversation, the most recently updated first. */
  'conversations:list': { request: Empty, response: z.strictObject({ conversations: z.array(ConversationSummary).max(L.conversations) }) },
  'conversations:get': { request: ConversationRef, response: Conversation },
  /** A new conversation, with its first messages (the first user message and the reply it starts). */
  'conversations:create': {
    request: z.strictObject({
      title: Title,
      modelId: ModelId,
      modelName: ModelName,
      adapter: ChatAdapter.nullable().default(null),
      mode: ChatMode,
      system: SystemText,
      settings: ChatSettings,
      messages: z.array(NewMessage).max(L.appendMessages).default([]),
    }),
    response: Conversation,
  },
  /** Renames, or changes the settings, model, adapter, mode or system message of a conversation. */
  'conversations:update': {
    request: z.strictObject({
      id: Id,
      title: Title.optional(),
      system: SystemText.optional(),
      settings: ChatSettings.optional(),
      modelId: ModelId.optional(),
      modelName: ModelName.optional(),
      adapter: ChatAdapter.nullable().optional(),
      mode: ChatMode.optional(),
    }),
    response: ConversationSummary,
  },
  'conversations:delete': { request: ConversationRef, response: z.strictObject({ deleted: Id }) },
  /** Adds messages at the end; answers them with their ids. */
  'conversations:append': {
    request: z.strictObject({ conversationId: Id, messages: z.array(NewMessage).min(1).max(L.appendMessages) }),
    response: z.strictObject({ messages: z.array(ConversationMessage).max(L.appendMessages) }),
  },
  /** Replaces a message's text and state: a streaming reply as it grows, then as it ended. */
  'conversations:updateMessage': {
    request: z.strictObject({ ...MessageRef, text: MessageText, state: MessageState, stats: ReplyStats.nullable().optional(), error: ErrorText.nullable().optional() }),
    response: ConversationMessage,
  },
  /** Removes a message and every message after it (edit and resend, regenerate). */
  'conversations:truncate': { request: z.strictObject(MessageRef), response: z.strictObject({ removed: Count }) },
  /** The conversation as a Markdown or JSON document, with a file name made from its title. */
  'conversations:export': {
    request: z.strictObject({ id: Id, format: ExportFormat }),
    response: z.strictObject({ fileName: z.string().min(1).max(120), mimeType: z.string(), text: z.string().max(8 * L.conversationChars) }),
  },
  /** Writes that document to an absolute path on the host (the desktop's save path). */
  'conversations:save': {
    request: z.strictObject({ id: Id, format: ExportFormat, path: z.string().min(1).max(L.pathChars), overwrite: z.boolean().default(false) }),
    response: z.strictObject({ path: z.string(), bytes: Count }),
  },
  'conversations:defaults': { request: Empty, response: z.strictObject({ defaults: ChatDefaults.nullable() }) },
  'conversations:setDefaults': { request: z.strictObject({ defaults: ChatDefaults }), response: z.strictObject({ defaults: ChatDefaults }) },
} as const;

export type ChatSettings = z.output<typeof ChatSettings>;
export type ChatAdapter = z.output<typeof ChatAdapter>;
export type ChatModeName = z.output<typeof ChatMode>;
export type ReplyStats = z.output<typeof ReplyStats>;
export type ConversationMessage = z.output<typeof ConversationMessage>;
export type ConversationSummary = z.output<typeof ConversationSummary>;
export type Conversation = z.output<typeof Conversation>;
export type NewMessage = z.input<typeof NewMessage>;
export type ChatDefaults = z.output<typeof ChatDefaults>;
/** Defaults as given (the adapter may be left out: none). */
export type ChatDefaultsInput = z.input<typeof ChatDefaults>;
export type ExportFormatName = z.output<typeof ExportFormat>;
export type MessageStateName = z.output<typeof MessageState>;
