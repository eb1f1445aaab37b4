/**
 * Errors in plain words: for each stable error code (shared/errors.ts and the subsystems'
 * codes), the sentence a person who never read the GGUF or PixelFS specs understands, and
 * where it helps, what to do next. The technical message (file, field, offset, bytes) and the
 * code stay available to show in a details fold; these sentences name no path, no field and no
 * storage internals, so they are safe to show first everywhere.
 *
 * Pure data and lookups: the renderer's error display and the CLI can both use it. A code with
 * no sentence here is shown as its technical message (`plainError` answers null).
 */

export interface PlainError {
  /** What happened, in one sentence a non-expert understands. */
  readonly sentence: string;
  /** What the person can do about it, when there is something to do. */
  readonly hint?: string;
}

const damagedFile: PlainError = {
  sentence: 'This GGUF file is damaged: part of its header does not make sense.',
  hint: 'Download or copy the file again; if it still fails, the program that wrote it made a broken file.',
};
const cutShort: PlainError = {
  sentence: 'The file ends before its header says it should.',
  hint: 'It was probably cut short (an unfinished download or copy): download or copy it again.',
};
const tooBigToRead: PlainError = {
  sentence: 'This GGUF file claims sizes far larger than any real model, so it is not read.',
  hint: 'The file is damaged or was made to attack model loaders: use another copy.',
};
const storedCopyDamaged: PlainError = {
  sentence: 'Part of a stored model is damaged: its bytes no longer match what was imported.',
  hint: 'Verify the model in Models to see which part; importing the file again repairs it.',
};
const appProblem: PlainError = {
  sentence: 'Something went wrong inside Pixel-LLM.',
  hint: 'Try again; if it happens again, the details below help to report it.',
};
const gpuProblem: PlainError = {
  sentence: 'The graphics engine ran into a problem it did not expect.',
  hint: 'Reload the page to start it again; the details below help to report it.',
};

const SENTENCES: Readonly<Record<string, PlainError>> = {
  // --- GGUF files (shared/gguf/errors.ts) -------------------------------------------------------
  GGUF_BAD_MAGIC: { sentence: 'This file is not a GGUF model.', hint: 'Choose a .gguf file, such as one made by llama.cpp or downloaded from a model hub.' },
  GGUF_BAD_VERSION: { sentence: 'This GGUF file is of a version Pixel-LLM cannot read (versions 2 and 3 are read).', hint: 'Convert it again with a current llama.cpp.' },
  GGUF_TRUNCATED: cutShort,
  GGUF_DATA_PAST_END: { sentence: 'The file ends before all of the model’s weights: it is incomplete.', hint: cutShort.hint! },
  GGUF_BAD_SOURCE: { sentence: 'The file could not be read completely: it changed or shrank while it was read.', hint: 'Make sure nothing else is writing it, then try again.' },
  GGUF_HEADER_TOO_LARGE: tooBigToRead,
  GGUF_TOO_MANY_TENSORS: tooBigToRead,
  GGUF_TOO_MANY_KVS: tooBigToRead,
  GGUF_STRING_TOO_LONG: tooBigToRead,
  GGUF_ARRAY_TOO_LONG: tooBigToRead,
  GGUF_ARRAY_TOO_DEEP: tooBigToRead,
  GGUF_SIZE_OVERFLOW: tooBigToRead,
  GGUF_BAD_UTF8: damagedFile,
  GGUF_BAD_VALUE_TYPE: damagedFile,
  GGUF_BAD_BOOL: damagedFile,
  GGUF_DUPLICATE_KEY: damagedFile,
  GGUF_DUPLICATE_TENSOR: damagedFile,
  GGUF_BAD_ALIGNMENT: damagedFile,
  GGUF_BAD_NDIMS: damagedFile,
  GGUF_BAD_DIM: damagedFile,
  GGUF_BAD_ROW: damagedFile,
  GGUF_MISALIGNED_OFFSET: damagedFile,
  GGUF_BAD_OFFSET: damagedFile,
  GGUF_UNKNOWN_TYPE: { sentence: 'This file stores weights in a format Pixel-LLM does not know.', hint: 'It may come from a newer llama.cpp, or use a type llama.cpp has removed.' },
  GGUF_MISSING_KEY: { sentence: 'This GGUF file lacks a setting the model needs.' },
  GGUF_WRONG_TYPE: { sentence: 'A setting in this GGUF file holds the wrong kind of value.' },
  GGUF_BAD_VALUE: { sentence: 'A value does not fit where it should go in the GGUF file being written.' },

  // --- Models (shared/model/errors.ts) ----------------------------------------------------------
  MODEL_UNSUPPORTED_ARCH: { sentence: 'Pixel-LLM does not know this kind of model, so it cannot run it.', hint: 'It can still be stored and viewed.' },
  MODEL_BAD_HPARAM: { sentence: 'One of the model’s settings is missing or out of range.' },
  MODEL_TENSOR_MISSING: { sentence: 'A part of the model that its kind needs is missing from the file.' },
  MODEL_TENSOR_SHAPE: { sentence: 'A part of the model has a shape that does not match the model’s settings.' },
  MANIFEST_INVALID: { sentence: 'The record describing a stored model is damaged.', hint: 'Import the model again.' },
  MANIFEST_VERSION: { sentence: 'This model was stored by a newer Pixel-LLM.', hint: 'Update Pixel-LLM to open it.' },

  // --- The model store (electron/models/errors.ts) ----------------------------------------------
  MODEL_NOT_FOUND: { sentence: 'That model is not in this volume (any more).', hint: 'Reload the list of models.' },
  MODEL_EXISTS: { sentence: 'A model with this name is already in the volume, or being imported.', hint: 'Choose another name.' },
  MODEL_BAD_NAME: { sentence: 'This name cannot be used for a model.', hint: 'Use 1 to 256 printable characters, without spaces at either end.' },
  MODEL_SOURCE_UNREADABLE: { sentence: 'The model file could not be opened.', hint: 'Check that it still exists and can be read, then try again.' },
  MODEL_SOURCE_CHANGED: { sentence: 'The file changed while it was being imported.', hint: 'Wait until it is completely written, then import it again.' },
  MODEL_PADDING_TOO_LARGE: { sentence: 'This file carries too much data outside the model’s weights to be stored.' },
  MODEL_CANCELLED: { sentence: 'The work was cancelled.', hint: 'Run it again to continue where it stopped.' },
  MODEL_CORRUPT: storedCopyDamaged,
  MODEL_EXPORT_EXISTS: { sentence: 'A file is already there.', hint: 'Choose another file name, or allow replacing it.' },
  MODEL_STORE_SCHEMA: { sentence: 'This volume was written by a newer Pixel-LLM.', hint: 'Update Pixel-LLM to use it.' },
  MODEL_MAP_UNAVAILABLE: { sentence: 'The model’s map is not available.', hint: 'Build its map pyramid from the Models view.' },

  // --- PixelFS, the pixel storage (electron/pixelfs/errors.ts) ----------------------------------
  PIXELFS_PNG_BAD_SIGNATURE: storedCopyDamaged,
  PIXELFS_PNG_TRUNCATED: storedCopyDamaged,
  PIXELFS_PNG_BAD_CRC: storedCopyDamaged,
  PIXELFS_PNG_BAD_CHUNK_ORDER: storedCopyDamaged,
  PIXELFS_PNG_UNKNOWN_CRITICAL_CHUNK: storedCopyDamaged,
  PIXELFS_PNG_BAD_DIMENSIONS: storedCopyDamaged,
  PIXELFS_PNG_UNSUPPORTED_FORMAT: storedCopyDamaged,
  PIXELFS_PNG_MISSING_IEND: storedCopyDamaged,
  PIXELFS_PNG_BAD_FILTER: storedCopyDamaged,
  PIXELFS_PNG_BAD_ZLIB: storedCopyDamaged,
  PIXELFS_PNG_BAD_META: storedCopyDamaged,
  PIXELFS_TILE_CHECKSUM_MISMATCH: storedCopyDamaged,
  PIXELFS_TILE_PADDING_NOT_ZERO: storedCopyDamaged,
  PIXELFS_TILE_CORRUPT: storedCopyDamaged,
  PIXELFS_FILE_CHECKSUM_MISMATCH: storedCopyDamaged,
  PIXELFS_TILE_MISSING: { sentence: 'Part of a stored model is missing from the volume.', hint: storedCopyDamaged.hint! },
  PIXELFS_TILE_TOO_LARGE: { sentence: 'A piece of data is too large for the volume’s storage format.' },
  PIXELFS_VOLUME_NOT_FOUND: { sentence: 'The storage folder for models was not found.', hint: 'Check the data folder Pixel-LLM was started with.' },
  PIXELFS_VOLUME_LOCKED: { sentence: 'Another Pixel-LLM program is using the storage folder.', hint: 'Close the other one (the app, pxi serve or a pxi command) and try again.' },
  PIXELFS_NO_SPACE: { sentence: 'The disk holding the storage folder is full.', hint: 'Free some space on that disk, or use a data folder on another disk.' },
  PIXELFS_VOLUME_CLOSED: { sentence: 'The storage was closed, so nothing more can be read or written.', hint: 'Pixel-LLM is shutting down or restarting: try again in a moment.' },
  PIXELFS_BAD_SETTINGS: { sentence: 'These storage settings cannot be used.' },
  PIXELFS_SETTINGS_MISMATCH: { sentence: 'These storage settings differ from the ones the volume was created with.' },
  PIXELFS_CATALOG_VERSION: { sentence: 'This volume was written by a newer Pixel-LLM.', hint: 'Update Pixel-LLM to use it.' },
  PIXELFS_CATALOG_INCONSISTENT: { sentence: 'The volume’s index is damaged.', hint: 'Run pxi fs verify on it; importing the models again repairs them.' },
  PIXELFS_BAD_NAME: { sentence: 'This name cannot be used for a stored file.' },
  PIXELFS_FILE_NOT_FOUND: { sentence: 'A stored file was not found in the volume.' },
  PIXELFS_FILE_EXISTS: { sentence: 'A stored file with this name already exists.' },
  PIXELFS_PUT_IN_PROGRESS: { sentence: 'Another import is writing the same file right now.', hint: 'Wait for it to finish.' },
  PIXELFS_BAD_RANGE: { sentence: 'A read asked for bytes outside a stored file.' },
  PIXELFS_BAD_RESUME: { sentence: 'An interrupted import cannot be continued from where it stopped.', hint: 'Start the import again.' },
  PIXELFS_SOURCE_SIZE_MISMATCH: { sentence: 'The file changed size while it was being stored.', hint: 'Wait until it is completely written, then import it again.' },
  PIXELFS_SOURCE_UNREADABLE: { sentence: 'The file could not be read while it was being stored.', hint: 'Check that it still exists and can be read, then try again.' },
  PIXELFS_WORKER_FAILED: appProblem,
  PIXELFS_SIMULATED_CRASH: { sentence: 'A crash was simulated (a test).' },

  // --- Choosing and uploading a file (shared/ipc/channels/files.ts, shared/ipc/upload.ts, inspect) --
  FILES_DIALOG_UNAVAILABLE: { sentence: 'There is no file dialog here.', hint: 'Type the file’s path instead, or upload the file.' },
  FILES_BAD_PATH: { sentence: 'That is not a full path to a file.', hint: 'Give the whole path, starting at the top folder (such as /home/me/model.gguf).' },
  FILES_NOT_FOUND: { sentence: 'There is no file at that path.', hint: 'Check the spelling and the folder.' },
  FILES_NOT_A_FILE: { sentence: 'That path is a folder or a device, not a file.' },
  INSPECT_BAD_PATH: { sentence: 'That is not a full path to a file.', hint: 'Give the whole path, starting at the top folder (such as /home/me/model.gguf).' },
  INSPECT_NOT_FOUND: { sentence: 'There is no file at that path.', hint: 'Check the spelling and the folder.' },
  INSPECT_NOT_A_FILE: { sentence: 'That path is a folder or a device, not a file.' },
  UPLOAD_NOT_GGUF: { sentence: 'This file is not a GGUF model.', hint: 'Choose a .gguf file, such as one made by llama.cpp or downloaded from a model hub.' },
  UPLOAD_TOO_LARGE: { sentence: 'The file is too large to upload to this server.', hint: 'Free some disk space on the server, or give the file’s path if it is already there.' },
  UPLOAD_INCOMPLETE: { sentence: 'The upload stopped before the whole file arrived.', hint: 'Upload it again.' },
  UPLOAD_FAILED: { sentence: 'The server could not save the uploaded file.', hint: 'Check the free space on the server’s disk, then upload it again.' },
  UPLOAD_CANCELLED: { sentence: 'The upload was cancelled.' },
  UPLOAD_LENGTH_REQUIRED: { sentence: 'The browser did not say how large the file is, so the server refused it.', hint: 'Upload it again from a current browser.' },
  UPLOAD_BAD_REQUEST: { sentence: 'The server did not understand the upload.', hint: 'Reload the page and upload it again.' },
  UPLOAD_NOT_FOUND: { sentence: 'The uploaded file is no longer on the server.', hint: 'Upload it again.' },

  // --- The task queue (electron/tasks/queue.ts, electron/ops/model-tasks.ts, electron/models/task-params.ts) ------------------------
  TASK_CANCELLED: { sentence: 'The task was cancelled.', hint: 'Retry continues where it stopped.' },
  TASK_SHUTDOWN: { sentence: 'Pixel-LLM was shutting down, so the task stopped.', hint: 'It continues the next time Pixel-LLM starts.' },
  TASK_NOT_FOUND: { sentence: 'That task no longer exists.' },
  TASK_NOT_CANCELLABLE: { sentence: 'The task had already finished, so there was nothing to cancel.' },
  TASK_NOT_RETRYABLE: { sentence: 'Only a task that failed or was cancelled can be retried.' },
  TASK_UNKNOWN_KIND: appProblem,
  TASK_INVALID_PARAMS: appProblem,
  TASKS_SCHEMA_NEWER: { sentence: 'The task list was written by a newer Pixel-LLM.', hint: 'Update Pixel-LLM to use it.' },

  // --- The map (electron/map) ---------------------------------------------------------------------
  MAP_NOT_FOUND: { sentence: 'This part of the map is not in the index (any more).' },
  MAP_READ: { sentence: 'The map could not be read.', hint: 'Build the model’s map pyramid again from the Models view.' },
  MAP_INPUT: appProblem,
  MAP_OVERLAP: appProblem,
  MAP_CONFLICT: appProblem,
  MAP_ABORTED: { sentence: 'Building the map was stopped.', hint: 'Run it again to continue where it stopped.' },

  // --- The connection between the page and the services (shared/ipc) ---------------------------
  IPC_TRANSPORT: { sentence: 'The connection to the Pixel-LLM services was lost.', hint: 'Check that Pixel-LLM (or pxi serve) is still running, then reload the page.' },
  IPC_FORBIDDEN_SENDER: { sentence: 'The Pixel-LLM services refused this page.', hint: 'Open the app from the address pxi serve printed, with its access token.' },
  IPC_UNKNOWN_CHANNEL: { sentence: 'This page and the Pixel-LLM services are of different versions.', hint: 'Reload the page.' },
  IPC_INVALID_REQUEST: appProblem,
  IPC_INVALID_RESPONSE: appProblem,
  IPC_MALFORMED_FRAME: appProblem,
  INTERNAL: appProblem,

  // --- The engine and the GPU (shared/engine/errors.ts, shared/gpu/errors.ts) -------------------
  ENGINE_UNSUPPORTED_TYPE: { sentence: 'This model stores some weights in a format the engine cannot run yet.', hint: 'It can still be stored and viewed.' },
  ENGINE_UNSUPPORTED_SHAPE: { sentence: 'This model has a layer shape the engine cannot run yet.', hint: 'It can still be stored and viewed.' },
  ENGINE_TENSOR_READ: { sentence: 'The engine could not read part of the model’s weights.', hint: 'Verify the model in Models.' },
  ENGINE_BAD_TOKEN: { sentence: 'The text contains a token this model does not know.' },
  ENGINE_NONFINITE_LOGITS: { sentence: 'The model computed no usable numbers: its weights may be damaged or wrongly converted.', hint: 'Verify the model in Models, or import it again.' },
  ENGINE_BAD_OPTION: { sentence: 'A generation setting is out of range.', hint: 'Check the settings and try again.' },
  ENGINE_NO_CHAT_TEMPLATE: { sentence: 'This model has no chat format, so it can only continue a text.', hint: 'Use Completion mode.' },
  ENGINE_DESTROYED: { sentence: 'The model was unloaded.', hint: 'Load it again.' },
  ENGINE_BAD_TUNING_FILE: { sentence: 'The saved kernel measurements are not readable and were ignored.', hint: 'Measure the kernels again in Kernels.' },
  ENGINE_ABORTED: { sentence: 'It was stopped before it finished.' },
  WEBGPU_UNAVAILABLE: { sentence: 'This browser gives no access to WebGPU, so models cannot run here.', hint: 'Use a current Chromium or the desktop app.' },
  GPU_FEATURE_MISSING: { sentence: 'The graphics card lacks a feature this model needs.' },
  GPU_OUT_OF_MEMORY: { sentence: 'The graphics card ran out of memory.', hint: 'Use a smaller model or a shorter context, or close other programs using the graphics card.' },
  GPU_DEVICE_LOST: { sentence: 'The graphics card stopped responding (its driver restarted or it was taken away).', hint: 'Load the model again.' },
  MODEL_TOO_LARGE: { sentence: 'This model is too large for this graphics card.', hint: 'Use a smaller or more strongly quantised model.' },
  CONTEXT_WINDOW_EXCEEDED: { sentence: 'The conversation is longer than the model can read at once.', hint: 'Start a new conversation or raise the context length.' },
  // --- Self-improvement sessions (shared/sessions/record.ts) -----------------------------------------
  SESSIONS_BAD_FILE: { sentence: 'The record of the engine’s self-improvement sessions is damaged, so it was not read or changed.', hint: 'Move the file named in the details aside; a new record starts with the next session.' },
  SESSION_NOT_FOUND: { sentence: 'That session is no longer recorded.', hint: 'Reload the Dashboard.' },
  SESSION_NOT_UNDOABLE: { sentence: 'That session has nothing to undo.' },
  SHADER_COMPILE: gpuProblem,
  SHADER_NOT_FOUND: gpuProblem,
  GPU_VALIDATION: gpuProblem,
  GPU_USAGE: gpuProblem,
};

/** The plain words for `code`, or null when there are none (then the technical message is shown). */
export function plainError(code: string | undefined | null): PlainError | null {
  if (!code || !Object.hasOwn(SENTENCES, code)) return null;
  return SENTENCES[code]!;
}

/** Every code that has plain words. */
export function plainErrorCodes(): string[] {
  return Object.keys(SENTENCES);
}
