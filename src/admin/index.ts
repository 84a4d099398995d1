/** The admin part as the HTTP layer and the composition root see it: the service and the store port it needs. */
export { AdminService, generationWaitMs, requiredIdleMs, type AdminOptions, type AdminServiceDeps } from './admin-service.ts';
export type { AdminStore, BucketEntry, ReassignOutcome, ReassignStatus, Reassignment, StoredMapping } from './admin-store.ts';
