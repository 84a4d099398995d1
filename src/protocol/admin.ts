/** The admin API's answers (GET/POST /admin/...), shared by the sidecar that sends them and the CLI that reads them. */

export interface GroupView {
  group: string;
  partition: number;
  /** Start of the minute of the last access (Redis stamps whole minutes), ISO 8601. */
  last_access: string;
}

export interface GroupPage {
  groups: GroupView[];
  next_cursor: string | null;
}

export interface MappingView extends GroupView {
  topic: string;
}

export interface LoadsView {
  topic: string;
  partitions: { partition: number; groups: number }[];
  total: number;
  max_minus_min: number;
  deviation: number;
}

export interface ChangeView {
  topic: string;
  group: string;
  /** The partition the group was mapped to before the change. */
  previous_partition: number;
  /** The partition it is mapped to now; null after a release (its next message is routed afresh). */
  partition: number | null;
  /** Last access before the change (a change is not a use), ISO 8601, minute resolution. */
  last_access: string;
  released: boolean;
}

/** A group whose head is waiting for an admin call. */
export interface BlockedGroup {
  partition: number;
  group: string | null;
  offsets: string[];
  attempt: number;
  error: string | undefined;
}

/** A topic's route log replayed into Redis (POST /admin/topics/{topic}/rebuild). */
export interface RebuildView {
  topic: string;
  /** Mappings the route log had that Redis did not, now restored. */
  restored: number;
}

/** A topic's mappings written to the route log from Redis (POST /admin/topics/{topic}/backfill). */
export interface BackfillView {
  topic: string;
  /** Mappings Redis had, each now in the route log (ones already there are written again: harmless). */
  logged: number;
}

/** A topic's hold lifted without its route log (POST /admin/topics/{topic}/resume). */
export interface ResumeView {
  topic: string;
  resumed: true;
}
