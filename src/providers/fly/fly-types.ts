// The Fly Machines API's JSON, as far as runway reads or writes it (learned from Fly's public API docs
// and superfly/fly-go's machine types). Used by the fly provider (client) and by `runway sim serve`
// (server), so both speak the same shapes. Unknown fields are kept: runway copies a machine's config
// whole when it updates it, because Fly's update replaces the config (no partial updates).

/** `config.checks[name]`: a top-level health check. Durations are Go duration strings ("15s"). */
export interface FlyCheckConfig {
  type?: 'http' | 'tcp' | string;
  port?: number;
  interval?: string;
  timeout?: string;
  grace_period?: string;
  method?: string;
  path?: string;
  [key: string]: unknown;
}

export interface FlyMachineConfig {
  image: string;
  env?: Record<string, string>;
  init?: { exec?: string[]; entrypoint?: string[]; cmd?: string[]; [key: string]: unknown };
  guest?: { cpu_kind?: string; cpus?: number; memory_mb?: number; [key: string]: unknown };
  metadata?: Record<string, string>;
  services?: unknown[];
  checks?: Record<string, FlyCheckConfig>;
  mounts?: FlyMachineMount[];
  auto_destroy?: boolean;
  restart?: { policy?: 'no' | 'always' | 'on-failure' | string; max_retries?: number };
  [key: string]: unknown;
}

/** `config.mounts[]` (fly.MachineMount): a volume attached to the machine at `path`. */
export interface FlyMachineMount {
  volume?: string;
  path?: string;
  name?: string;
  size_gb?: number;
  encrypted?: boolean;
  [key: string]: unknown;
}

/** A volume as the Volumes API returns it (`Volume`). */
export interface FlyVolume {
  id: string;
  name: string;
  state: string;
  region: string;
  size_gb: number;
  zone?: string;
  encrypted?: boolean;
  fstype?: string;
  /** Absent while the volume is attached to no machine. */
  attached_machine_id?: string | null;
  attached_alloc_id?: string | null;
  created_at?: string;
  snapshot_retention?: number;
  auto_backup_enabled?: boolean;
  block_size?: number;
  blocks?: number;
  blocks_avail?: number;
  blocks_free?: number;
}

/** POST /v1/apps/{app}/volumes (`CreateVolumeRequest`); `source_volume_id` forks an existing volume. */
export interface FlyCreateVolumeRequest {
  name?: string;
  region?: string;
  size_gb?: number;
  encrypted?: boolean;
  fstype?: string;
  require_unique_zone?: boolean;
  snapshot_id?: string;
  snapshot_retention?: number;
  source_volume_id?: string;
  machines_only?: boolean;
}

/** One entry of a machine's `checks`: Consul-style status. */
export interface FlyCheckStatus {
  name: string;
  status: 'passing' | 'warning' | 'critical' | string;
  output?: string;
  updated_at?: string;
}

export interface FlyImageRef {
  registry?: string;
  repository?: string;
  tag?: string;
  digest?: string;
  labels?: Record<string, string>;
}

export interface FlyExitEvent {
  exit_code?: number;
  oom_killed?: boolean;
  requested_stop?: boolean;
  exited_at?: string;
}

/** One entry of a machine's `events`, newest first (launch, start, exit, update, …). */
export interface FlyMachineEvent {
  type: string;
  status: string;
  source?: string;
  timestamp: number;
  /** For `exit` events: how the process ended (fly-go reads MonitorEvent's first, then exit_event). */
  request?: { exit_event?: FlyExitEvent; MonitorEvent?: { exit_event?: FlyExitEvent }; restart_count?: number };
}

/** A machine as the API returns it (list, get, create, update). */
export interface FlyMachine {
  id: string;
  name?: string;
  /** created, starting, started, stopping, stopped, suspended, failed, replacing, updating, destroying, destroyed, … */
  state: string;
  region?: string;
  /** Changes on every update: the version waits are pinned to. */
  instance_id?: string;
  private_ip?: string;
  created_at?: string;
  updated_at?: string;
  config?: FlyMachineConfig;
  /** When host_status is not ok, the API gives a partial config here instead of `config`. */
  incomplete_config?: FlyMachineConfig;
  image_ref?: FlyImageRef;
  checks?: FlyCheckStatus[];
  events?: FlyMachineEvent[];
  /** Lease nonce: returned by a create with `lease_ttl`. */
  nonce?: string;
  host_status?: 'ok' | 'unknown' | 'unreachable' | string;
  /** True while the machine is out of Fly Proxy's routing (cordon, or created with skip_service_registration). */
  cordoned?: boolean;
}

/** POST /v1/apps/{app}/machines (create) and POST /v1/apps/{app}/machines/{id} (update). */
export interface FlyLaunchRequest {
  config: FlyMachineConfig;
  name?: string;
  region?: string;
  skip_launch?: boolean;
  /** Create (or update) the machine without registering its services: a cordoned machine. */
  skip_service_registration?: boolean;
  /** Create with a lease held for this many seconds (the answer carries its `nonce`). */
  lease_ttl?: number;
  /** Update only: the instance_id the caller last saw. */
  current_version?: string;
  /** Start with at least this version of the app's secrets (fly-go LaunchMachineInput.MinSecretsVersion). */
  min_secrets_version?: number;
}

export interface FlyStopRequest {
  signal?: string;
  /** Go duration string: how long before SIGKILL. */
  timeout?: string;
}

export interface FlyLeaseData {
  nonce: string;
  /** Unix seconds. */
  expires_at: number;
  owner: string;
  description?: string;
  version?: string;
}

/** POST/GET /v1/apps/{app}/machines/{id}/lease. */
export interface FlyLease {
  status: 'success' | string;
  data?: FlyLeaseData;
  message?: string;
  code?: string;
}

export interface FlyApp {
  id?: string;
  name: string;
  status?: string;
  machine_count?: number;
  organization?: { slug?: string; name?: string };
}

/** The header that proves a lease is held (fly-go: flaps.NonceHeader). */
export const LEASE_NONCE_HEADER = 'fly-machine-lease-nonce';

/** Fly's wait endpoint answers after at most this long. */
export const FLY_MAX_WAIT_SECONDS = 60;
