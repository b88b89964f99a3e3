// A vitest reporter (next to the default one, vitest.config.ts) that ends
// `npm test` with every platform exception of the run: each test that one
// platform does not pass, and each platform that could not run at all, with
// the reason. It reports only; whether the run passes is the tests' say
// (an 'expected to fail' test that passes fails the run by itself).
import type { Reporter, TestModule } from 'vitest/node';
import { EXCEPTION_MARK, UNAVAILABLE_MARK } from './platform-exception.js';

export default class PlatformReport implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [];
    for (const m of testModules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        const ex = EXCEPTION_MARK.exec(t.name);
        const un = UNAVAILABLE_MARK.exec(t.name);
        // The project name is the platform (vitest.config.ts), so it says
        // which side of the matrix the line is about.
        const where = `${t.project.name.padEnd(8)} ${state.padEnd(8)} ${m.relativeModuleId}`;
        if (ex) lines.push(`  ${where} > ${t.fullName.replace(EXCEPTION_MARK, '').trimEnd()}\n      ${ex[2]}: ${ex[3]}`);
        else if (un) lines.push(`  ${where}\n      the whole ${un[1]} project: ${un[2]}`);
      }
    }
    const head = lines.length === 0
      ? 'platform exceptions: none in this run'
      : `platform exceptions (${lines.length}): tests a platform does not pass, and why`;
    process.stdout.write(`\n${head}\n${lines.join('\n')}${lines.length === 0 ? '' : '\n'}`);
  }
}
