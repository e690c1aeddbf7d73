/** Wire-level shapes shared by transport/ and the providers that build requests for it. */

export type HeaderValue = string | string[] | undefined;
export type Headers = Record<string, HeaderValue>;

/** A fully built upstream HTTP request; transport/ sends it as is. */
export interface UpstreamRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body: string | undefined;
}
