// Regenerates syscall-tables/x86_64.generated.ts from syscall-tables/x86_64.tbl.
//   npx tsc -p tsconfig.json && node dist/syscall-tables/generate.js [--check]
// --check writes nothing and exits 1 when the committed file is out of date.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTbl, renderGenerated } from './tbl-format.js';

/** The source folder, whether this runs as dist/syscall-tables/generate.js or from source. */
export function sourceDirectory(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  if (existsSync(path.join(here, 'x86_64.tbl'))) return here;
  return path.resolve(here, '..', '..', 'syscall-tables');
}

function main(argv: readonly string[]): number {
  const checkOnly = argv.includes('--check');
  const directory = sourceDirectory();
  const tblPath = path.join(directory, 'x86_64.tbl');
  const generatedPath = path.join(directory, 'x86_64.generated.ts');
  const text = renderGenerated(parseTbl(readFileSync(tblPath, 'utf8')));
  const current = existsSync(generatedPath) ? readFileSync(generatedPath, 'utf8') : '';
  if (current === text) {
    process.stdout.write(`${generatedPath} is up to date\n`);
    return 0;
  }
  if (checkOnly) {
    process.stderr.write(`${generatedPath} is out of date with ${tblPath}\n`);
    return 1;
  }
  writeFileSync(generatedPath, text);
  process.stdout.write(`wrote ${generatedPath}\n`);
  return 0;
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
