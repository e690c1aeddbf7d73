import { GatewayError } from '../errors.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../providers/shared/raw-json.js';

/**
 * A 400 for a request body nested more than MAX_JSON_DEPTH levels deep, checked on the text before it is parsed:
 * the gateway serialises parsed bodies, and JSON.stringify runs out of stack a few thousand levels down, which
 * was a 500 for any body the gateway had to write out again.
 */
export function checkJsonDepth(text: string, limit: number = MAX_JSON_DEPTH): void {
  if (!nestsDeeperThan(text, limit)) return;
  throw new GatewayError(
    'bad_request',
    `Request body is nested more than ${limit} levels deep (objects and arrays inside each other); flatten it to ${limit} levels or fewer`,
    { code: 'json_too_deep' },
  );
}
