/**
 * Child process for the SIGKILL test in pixelfs-crash.test.ts:
 *   node --import tsx tests/node/pixelfs-crash-child.ts <volume> <source file> <name>
 * Puts the file with small commits and prints "P <tilesDone>" per tile and "DONE" at the end.
 */
import { Volume } from '../../electron/pixelfs/index';

const [volume, source, name] = process.argv.slice(2);
if (!volume || !source || !name) throw new Error('usage: pixelfs-crash-child.ts <volume> <source> <name>');
const v = await Volume.open(volume, { create: { tileWidth: 64, tileHeight: 64, level: 0 }, commitEveryBytes: 4 * 16384, workers: 1 });
await v.put(name, source, { onProgress: (p) => process.stdout.write(`P ${p.tilesDone}\n`) });
process.stdout.write('DONE\n');
await v.close();
