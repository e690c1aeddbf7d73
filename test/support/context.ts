// Shared by the token-counting tests (test/unit/context/tokens-*.test.ts): loose request shapes and a PNG data URL of
// a given size.
export type Body = Record<string, unknown>;
export type Msg = Record<string, unknown>;

/** A PNG data URL with just the signature and IHDR size fields: enough to read its width and height. */
export function pngDataUrl(width: number, height: number): string {
  const b = Buffer.alloc(33);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return `data:image/png;base64,${b.toString('base64')}`;
}
