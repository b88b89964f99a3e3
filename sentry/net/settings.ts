// The network settings a sandbox starts with, as they cross from the CLI to
// the sentry's worker thread (plain data: worker_threads clones it).
export interface NetSettings {
  /** --net-allow rules, CIDR[:PORTS] (sentry/net/policy.ts). */
  readonly allow: readonly string[];
  /** --net-deny rules. */
  readonly deny: readonly string[];
  /** --net-raw: raw and packet sockets for tasks with CAP_NET_RAW. */
  readonly rawSockets: boolean;
}
