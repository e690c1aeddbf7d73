/**
 * Token estimates for the non-text parts of a chat message: images, audio and files. Nothing is fetched: an
 * image's size is known only when it comes inline as a data: URL (its header is read), otherwise a documented
 * default stands in. Every number here is an estimate; OpenAI does not bill images, audio or files by a rule
 * that can be reproduced exactly offline.
 */

export interface ImageSize {
  width: number;
  height: number;
}

export type ImageDetail = 'low' | 'high' | 'auto';

/*
 * OpenAI's documented image rule (vision guide, "Calculating costs", tile-based models such as gpt-4o,
 * gpt-4.1, gpt-4.5): detail "low" costs 85 tokens; "high" (and "auto", which may choose high) scales the image
 * to fit 2048×2048, then so its shortest side is at most 768, and costs 85 + 170 per 512-px tile.
 * Documented examples: 1024×1024 high = 765, 2048×4096 high = 1105.
 *
 * Not modelled, on purpose: gpt-4o-mini bills images at ~33× these numbers, and the patch-based mini/nano
 * models apply a multiplier; both are billing factors (the context an image occupies is not multiplied), which
 * is the accounting module's business. Models whose base/tile costs are lower (o1/o3, gpt-5) are over-counted.
 */
export const IMAGE_BASE_TOKENS = 85;
export const IMAGE_TILE_TOKENS = 170;
/** An image whose size is unknown (a remote URL) is counted as a 1024×1024 one at high detail: 765 tokens. */
export const DEFAULT_IMAGE_SIZE: ImageSize = Object.freeze({ width: 1024, height: 1024 });

/*
 * Other families (estimates, before the family margin): Claude costs about width×height/750 tokens, capped at
 * about 1,600 by its resize; Gemini costs 258 per 768-px tile (1,120 at Gemini 3's high media resolution). The larger
 * of the OpenAI rule and the Claude rule covers all of them; an unknown size costs the 1,600 ceiling.
 */
const OTHER_IMAGE_MAX_TOKENS = 1600;

// Rounded up, so a fractional pixel never saves a tile (the estimate must not under-count).
const scaled = (n: number, ratio: number) => Math.ceil(n * ratio - 1e-9);

/** OpenAI's tile rule for one image; `size` unknown counts as `DEFAULT_IMAGE_SIZE`. */
export function openAIImageTokens(size: ImageSize | undefined, detail: ImageDetail = 'auto'): number {
  if (detail === 'low') return IMAGE_BASE_TOKENS;
  let { width, height } = size ?? DEFAULT_IMAGE_SIZE;
  if (!(width > 0 && height > 0)) ({ width, height } = DEFAULT_IMAGE_SIZE);
  if (width > 2048 || height > 2048) {
    const ratio = 2048 / Math.max(width, height);
    [width, height] = [scaled(width, ratio), scaled(height, ratio)];
  }
  if (Math.min(width, height) > 768) {
    const ratio = 768 / Math.min(width, height);
    [width, height] = [scaled(width, ratio), scaled(height, ratio)];
  }
  return IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * Math.ceil(width / 512) * Math.ceil(height / 512);
}

function otherImageTokens(size: ImageSize | undefined): number {
  if (!size) return OTHER_IMAGE_MAX_TOKENS;
  const claude = Math.min(OTHER_IMAGE_MAX_TOKENS, Math.ceil((size.width * size.height) / 750));
  return Math.max(openAIImageTokens(size, 'high'), claude);
}

/** Tokens for an `image_url` part: OpenAI's rule when `openai`, else the cross-family estimate. */
export function imageTokens(url: string, detail: unknown, openai: boolean): number {
  const size = imageSizeFromDataUrl(url);
  if (!openai) return otherImageTokens(size);
  return openAIImageTokens(size, detail === 'low' || detail === 'high' ? detail : 'auto');
}

// Enough of a data: URL to reach a JPEG's frame header past typical EXIF/ICC segments (192 KiB decoded).
const HEADER_BASE64_CHARS = 256 * 1024;

interface DataUrl {
  mediaType: string;
  base64: string;
}

function parseDataUrl(url: string): DataUrl | undefined {
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  if (comma === -1) return undefined;
  const meta = url.slice(5, comma).toLowerCase();
  if (!meta.endsWith(';base64')) return undefined;
  return { mediaType: meta.slice(0, meta.indexOf(';')), base64: url.slice(comma + 1) };
}

function decodedLength(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((base64.length * 3) / 4) - padding);
}

/** Width and height from the header of a PNG, GIF, WebP or JPEG data: URL; undefined for anything else. */
export function imageSizeFromDataUrl(url: string): ImageSize | undefined {
  const data = parseDataUrl(url);
  if (!data) return undefined;
  const bytes = Buffer.from(data.base64.slice(0, HEADER_BASE64_CHARS), 'base64');
  const size = pngSize(bytes) ?? gifSize(bytes) ?? webpSize(bytes) ?? jpegSize(bytes);
  return size && size.width > 0 && size.height > 0 ? size : undefined;
}

function pngSize(b: Buffer): ImageSize | undefined {
  if (b.length < 24 || b.readUInt32BE(0) !== 0x89504e47 || b.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

function gifSize(b: Buffer): ImageSize | undefined {
  if (b.length < 10 || b.toString('latin1', 0, 4) !== 'GIF8') return undefined;
  return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
}

function webpSize(b: Buffer): ImageSize | undefined {
  if (b.length < 30 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WEBP') {
    return undefined;
  }
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  if (chunk === 'VP8L') {
    const bits = b.readUInt32LE(21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
  return undefined;
}

function jpegSize(b: Buffer): ImageSize | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if ((marker >= 0xd0 && marker <= 0xd8) || marker === 0x01) {
      i += 2; // markers without a length
      continue;
    }
    // SOF0-SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) };
    }
    i += 2 + b.readUInt16BE(i + 2);
  }
  return undefined;
}

/*
 * Audio (input_audio parts): OpenAI's audio models bill user audio at about 10 tokens a second (600 a minute).
 * The duration comes from a WAV header's byte rate when there is one; otherwise (mp3 and the rest) the size is
 * read as 32 kbit/s audio, a low bitrate, so typical 64-128 kbit/s files are over-counted rather than under.
 */
const AUDIO_TOKENS_PER_SECOND = 10;
const ASSUMED_AUDIO_BYTES_PER_SECOND = 4000;

export function audioTokens(audio: Record<string, unknown> | undefined): number {
  const base64 = typeof audio?.data === 'string' ? audio.data : '';
  if (base64.length === 0) return 0;
  const bytes = decodedLength(base64);
  let bytesPerSecond = ASSUMED_AUDIO_BYTES_PER_SECOND;
  const header = Buffer.from(base64.slice(0, 64), 'base64');
  if (header.length >= 32 && header.toString('latin1', 0, 4) === 'RIFF' && header.toString('latin1', 8, 12) === 'WAVE') {
    const byteRate = header.readUInt32LE(28);
    if (byteRate > 0) bytesPerSecond = byteRate;
  }
  return Math.ceil((bytes / bytesPerSecond) * AUDIO_TOKENS_PER_SECOND);
}

/*
 * Files (file parts, PDFs in practice): OpenAI gives the model each page's extracted text and an image of the
 * page. A page is estimated at 765 tokens for its image (a letter/A4 page at high detail) plus 600 for its text
 * (about 450 words): 1,365. Pages are counted from the PDF's page objects; when those are compressed out of
 * sight, one page per 20 KB of file. A non-PDF file is read as text at 4 bytes a token. A file sent only by id
 * cannot be seen offline and is counted as four pages.
 */
export const PDF_PAGE_TOKENS = 1365;
const BYTES_PER_PDF_PAGE = 20_000;
const BYTES_PER_TEXT_TOKEN = 4;
const FILE_ID_PAGES = 4;

export function fileTokens(file: Record<string, unknown> | undefined): number {
  const fileData = typeof file?.file_data === 'string' ? file.file_data : '';
  if (fileData.length === 0) return typeof file?.file_id === 'string' ? FILE_ID_PAGES * PDF_PAGE_TOKENS : 0;
  const data = parseDataUrl(fileData) ?? { mediaType: '', base64: fileData };
  const bytes = Buffer.from(data.base64, 'base64');
  const isPdf = data.mediaType === 'application/pdf' || bytes.toString('latin1', 0, 5) === '%PDF-';
  if (!isPdf) return Math.ceil(bytes.length / BYTES_PER_TEXT_TOKEN);
  const pageObjects = bytes.toString('latin1').match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
  const pages = Math.max(1, pageObjects || Math.ceil(bytes.length / BYTES_PER_PDF_PAGE));
  return pages * PDF_PAGE_TOKENS;
}
