// Path strings as the sentry holds them: "byte strings" (JS strings in latin1,
// one char per byte), since Linux names are bytes, not text. These helpers are
// pure; resolve.ts does the walking.

/** Splits a path into its components, dropping empty ones ("a//b" is "a/b"). */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path.charCodeAt(i) === 0x2f /* '/' */) {
      if (i > start) out.push(path.slice(start, i));
      start = i + 1;
    }
  }
  return out;
}

export function isAbsolute(path: string): boolean {
  return path.charCodeAt(0) === 0x2f;
}

/** True where Linux demands a directory at the end: "x/", "x/." and "x/..". */
export function endsInDirectoryForm(path: string): boolean {
  if (path.length === 0) return false;
  if (path.charCodeAt(path.length - 1) === 0x2f) return true;
  return path.endsWith('/.') || path.endsWith('/..') || path === '.' || path === '..';
}

/** Joins components into an absolute path. */
export function joinAbsolute(components: readonly string[]): string {
  return components.length === 0 ? '/' : '/' + components.join('/');
}

/** Converts a latin1 byte string to the bytes it stands for. */
export function bytesOf(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}
