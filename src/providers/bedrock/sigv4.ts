/**
 * AWS Signature Version 4 for Bedrock, done by the `aws4` library; this module only decides what goes into
 * the signature. Pure given the credentials and the date, so it can be checked against AWS's test vectors.
 */
import aws4 from 'aws4';
import type { AwsCredentials } from '../../config/types.js';

export interface SignInput {
  method: 'GET' | 'POST';
  url: string;
  /** Headers to send and sign (names in any case); `host` and the `x-amz-*` headers are added. */
  headers: Record<string, string>;
  /** The exact bytes that will be sent: the signature covers their SHA-256. */
  body: string;
  region: string;
  service: string;
  credentials: Pick<AwsCredentials, 'access_key_id' | 'secret_access_key'> & { session_token?: string | undefined };
  date: Date;
}

/** `20150830T123600Z`: ISO 8601 basic format, seconds precision, as `x-amz-date` wants it. */
export function toAmzDate(date: Date): string {
  return date.toISOString().replace(/[-:]|\.\d{3}/g, '');
}

/**
 * The signed request's headers, lower-cased: the input headers plus `host`, `x-amz-date`, `content-length`
 * when there is a body, `x-amz-security-token` with a session token, and `authorization`.
 */
export function signRequest(input: SignInput): Record<string, string> {
  const url = new URL(input.url);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers)) headers[name.toLowerCase()] = value;
  headers.host = url.host;
  // aws4 reads the signing time from x-amz-date when it is present, which is how the date is fixed.
  headers['x-amz-date'] = toAmzDate(input.date);
  if (input.credentials.session_token) headers['x-amz-security-token'] = input.credentials.session_token;
  const signed = aws4.sign(
    {
      host: url.host,
      path: url.pathname + url.search,
      method: input.method,
      headers,
      body: input.body,
      service: input.service,
      region: input.region,
    },
    {
      accessKeyId: input.credentials.access_key_id,
      secretAccessKey: input.credentials.secret_access_key,
      ...(input.credentials.session_token ? { sessionToken: input.credentials.session_token } : {}),
    },
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers ?? {})) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return out;
}

/**
 * The region of a Bedrock endpoint host: `bedrock-runtime.eu-west-1.amazonaws.com`,
 * `bedrock-runtime-fips.us-east-1.amazonaws.com`, or a VPC endpoint `….bedrock-runtime.us-east-1.vpce.amazonaws.com`.
 */
export function regionFromHost(host: string): string | undefined {
  const match = /bedrock-runtime(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$/.exec(host);
  return match?.[1];
}
