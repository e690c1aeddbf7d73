import type { Config, ModelConfig } from '../config/types.js';
import type { Deployment } from '../providers/types.js';

/** A client-facing model with its deployments resolved, built once at startup. */
export interface Route {
  readonly model: ModelConfig;
  readonly deployments: readonly Deployment[];
}

export function buildRoutes(config: Config): ReadonlyMap<string, Route> {
  const routes = new Map<string, Route>();
  for (const model of Object.values(config.models)) {
    const deployments = model.targets.map((t) => {
      const provider = config.providers[t.provider];
      if (!provider) throw new Error(`model ${model.name}: unknown provider ${t.provider}`); // the loader already checks
      return Object.freeze({ id: `${provider.name}/${t.model}`, provider, model: t.model });
    });
    routes.set(model.name, Object.freeze({ model, deployments }));
  }
  return routes;
}

/**
 * The ordered deployments a request will try. For now the model's first target only; balancing,
 * health and fallbacks plug in here.
 */
export function planDeployments(route: Route): Deployment[] {
  return route.deployments.slice(0, 1);
}
