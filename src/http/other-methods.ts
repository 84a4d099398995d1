import type { RequestHandler, Router } from 'express';
import { SidecarError } from '../errors/sidecar-error.ts';

/** The router's Layer.match (router 2.x, under express 5): not in @types/express, so checked for before use. */
interface MatchingLayer {
  match(path: string): unknown;
}
const matches = (layer: object, path: string): boolean =>
  'match' in layer && typeof layer.match === 'function' && Boolean((layer as MatchingLayer).match(path));

/**
 * Last in `router`: a request no route answered, on a path some route serves under other methods, gets 405 with
 * `Allow` naming them (as the produce routes do) instead of the 404 that says the path does not exist. Reached
 * only after the router's guards (origin, token) and before the 404.
 */
export function refuseOtherMethods(router: Router): RequestHandler {
  return (req, res, next) => {
    const allowed = new Set<string>();
    for (const layer of router.stack) {
      if (!layer.route || !matches(layer, req.path)) continue;
      for (const { method } of layer.route.stack) if (method) allowed.add(method.toUpperCase());
    }
    if (allowed.size === 0) {
      next();
      return;
    }
    // express answers HEAD with a GET route.
    if (allowed.has('GET')) allowed.add('HEAD');
    const allow = [...allowed].join(', ');
    res.setHeader('Allow', allow);
    next(new SidecarError('METHOD_NOT_ALLOWED', `${req.method} ${req.originalUrl.split('?')[0]}: this route takes ${allow}`));
  };
}
