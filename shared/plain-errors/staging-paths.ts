/**
 * Browser mode stages an uploaded GGUF inside the volume, at `<volume>/uploads/<id>/<NAME>.gguf`
 * (while it arrives `.<NAME>.gguf.part`; electron/web/staged-uploads.ts). The services' messages
 * name that path, but it is an internal detail: the person chose a file called NAME on their own
 * computer. `hideStagingPaths` puts the file's name where a staged path was, so no text shown
 * to a person (even in a details fold) points into the volume's staging folders.
 */

/** Where an upload is staged: any path ending in `uploads/<32 hex id>/<name>.gguf[.part]`, either separator. */
const STAGED =
  /(?:[A-Za-z]:)?(?:[\\/][^\\/\n"'`<>|:]*?)*?[\\/]uploads[\\/][0-9a-f]{32}(?:[\\/]\.?([^\\/\n"'`<>|]*?\.gguf)(?:\.part)?(?![^\s:"'`),;\]])|(?=[\\/\s:"'`),;\]]|$))/gi;

/**
 * `text` with every staged-upload path replaced by the file's own name (the staging folder alone
 * by "the uploaded file"). Other paths are left as they are: the person typed them.
 */
export function hideStagingPaths(text: string): string {
  return text.replace(STAGED, (_whole, name: string | undefined) => name ?? 'the uploaded file');
}

/** Whether `text` still names a path inside a staging folder (for tests and assertions). */
export function namesStagingPath(text: string): boolean {
  return /[\\/]uploads[\\/][0-9a-f]{32}(?:[\\/]|\b)/i.test(text);
}
