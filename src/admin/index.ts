/** The admin part as the HTTP layer and the composition root see it: the service, and the store port it is built on. */
export { AdminService, type AdminOptions, type AdminServiceDeps } from './admin-service.ts';
export type { AdminStore } from './admin-store.ts';
