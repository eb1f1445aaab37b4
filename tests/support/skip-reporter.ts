import type { Reporter, TestCase, TestResult } from '@playwright/test/reporter';

/** Prints every skipped test with its reason, so a skip is never silent. */
export default class SkipReasonReporter implements Reporter {
  private readonly skipped: string[] = [];

  onTestEnd(test: TestCase, result: TestResult): void {
    if (result.status !== 'skipped') return;
    const reason = test.annotations.find((a) => a.type === 'skip')?.description ?? 'no reason given';
    this.skipped.push(`  SKIPPED ${test.titlePath().filter(Boolean).join(' › ')}\n          reason: ${reason}`);
  }

  onEnd(): void {
    if (this.skipped.length) process.stdout.write(`\nSkipped tests and why:\n${this.skipped.join('\n')}\n`);
  }
}
