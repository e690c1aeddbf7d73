import type { Config, ModelConfig, TargetConfig } from '../config/types.js';
import type { Deployment } from '../types.js';

/** A configured target with its resolved deployment. */
export interface RoutedTarget {
  readonly deployment: Deployment;
  readonly target: TargetConfig;
}

/** A client-facing model with its deployments resolved, built once at startup. */
export interface Route {
  readonly model: ModelConfig;
  readonly targets: readonly RoutedTarget[];
}

export function buildRoutes(config: Config): ReadonlyMap<string, Route> {
  const deployments = new Map<string, Deployment>();
  const routes = new Map<string, Route>();
  for (const model of Object.values(config.models)) {
    const targets = model.targets.map((target): RoutedTarget => {
      const provider = config.providers[target.provider];
      if (!provider) throw new Error(`model ${model.name}: unknown provider ${target.provider}`); // the loader already checks
      const id = `${provider.name}/${target.model}`;
      // One Deployment object per id, so health and budgets are shared by every model that uses it.
      let deployment = deployments.get(id);
      if (!deployment) {
        deployment = Object.freeze({ id, provider, model: target.model });
        deployments.set(id, deployment);
      }
      return Object.freeze({ deployment, target });
    });
    routes.set(model.name, Object.freeze({ model, targets }));
  }
  return routes;
}
