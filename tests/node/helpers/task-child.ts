// A child process that runs a task queue with a slow, resumable "steps" handler. The test kills
// it with SIGKILL mid-task and starts it again. Each step appends its number to a log only if
// the checkpoint file says it is not done, so a resumed task must not repeat a step.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TaskQueue } from '../../../electron/tasks/queue';

const [dir, mode] = process.argv.slice(2) as [string, 'enqueue' | 'resume'];
const checkpoint = join(dir, 'checkpoint');
const log = join(dir, 'steps.log');
const queue = new TaskQueue(join(dir, 'tasks.sqlite'), [
  {
    kind: 'steps',
    unit: 'steps',
    validate: (p) => p,
    async run(params, ctx) {
      const total = (params as { steps: number }).steps;
      if (ctx.resuming) appendFileSync(join(dir, 'resumed'), 'yes\n');
      let done = existsSync(checkpoint) ? Number(readFileSync(checkpoint, 'utf8')) : 0;
      while (done < total) {
        await new Promise((r) => setTimeout(r, 20));
        appendFileSync(log, `${done}\n`);
        done++;
        writeFileSync(checkpoint, String(done));
        ctx.progress(done, total);
        if (mode === 'enqueue' && done === 5) {
          // Hold here until killed, so the kill never lands between a step and its checkpoint.
          process.stdout.write('half\n');
          await new Promise(() => {});
        }
      }
      return { steps: done };
    },
  },
]);
if (mode === 'enqueue') queue.enqueue('steps', { steps: 10 });
queue.start();
await queue.idle();
process.stdout.write(`${JSON.stringify(queue.list())}\n`);
await queue.close();
