import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '../config.ts';
import type { Handler } from './handler.ts';
import { handlers as shipped } from './handlers.ts';
import { HandlerError } from './registry.ts';

/**
 * The handler list the configuration names: the shipped one (src/handlers/handlers.ts), or the
 * `handlers` export of HANDLERS_MODULE, a path resolved from the working directory. The worker and
 * every script load it the same way, so they always agree on the event types.
 * @throws HandlerError `InvalidHandler` when the module cannot be loaded or exports no list.
 */
export async function loadHandlers(config: Config['handlers']): Promise<readonly Handler[]> {
  if (!config.module) return shipped;
  const url = pathToFileURL(resolve(config.module)).href;
  let loaded: { handlers?: unknown };
  try {
    loaded = (await import(url)) as { handlers?: unknown };
  } catch (error: unknown) {
    throw new HandlerError(
      'InvalidHandler',
      `HANDLERS_MODULE ${config.module} cannot be loaded: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (!Array.isArray(loaded.handlers)) {
    throw new HandlerError('InvalidHandler', `HANDLERS_MODULE ${config.module} exports no \`handlers\` list`);
  }
  return loaded.handlers as readonly Handler[];
}
