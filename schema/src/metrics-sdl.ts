/**
 * The metrics subgraph's SDL (subgraphs/metrics): the health of every component as the spec's
 * `PluginHealthReport`, current metric values for dashboards, and the kernel's startup report
 * (`PluginStartupResult`). Hand-written like automation's; for administrators (`viewSetup`,
 * `viewMetrics`) and platform operators.
 */
export const METRICS_SDL = /* GraphQL */ `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])

scalar DateTime

type Query {
  "Health of each component (database, Redis, each plugin and subgraph, the outbox relay, workers). Needs viewSetup."
  health: SystemHealth!
  "Current values of the named metrics (all when names is empty or absent), as Prometheus would scrape them. Needs viewMetrics."
  metrics(names: [String!]): [MetricFamily!]!
  "How each plugin of each process started, with its duration (spec PluginStartupResult). Needs viewSetup."
  startupReport: [PluginStartupResult!]!
}

enum PluginHealthStatus {
  healthy
  degraded
  unhealthy
  failed
  recovering
  unknown
}

enum HealthCheckStatus {
  passed
  failed
  warning
}

type SystemHealth {
  "The worst status that matters: unhealthy when a required component is, degraded when an optional one is down or any is degraded."
  status: PluginHealthStatus!
  timestamp: DateTime!
  components: [ComponentHealth!]!
}

type ComponentHealth {
  "The component (a plugin, or a dependency such as database or redis)."
  name: String!
  "The process reporting it (embedded: objectos; services: the subgraph's name)."
  process: String!
  report: PluginHealthReport!
}

type PluginHealthReport {
  status: PluginHealthStatus!
  timestamp: DateTime!
  message: String
  metrics: PluginHealthMetrics
  checks: [PluginHealthCheck!]!
  dependencies: [PluginDependencyHealth!]!
}

type PluginHealthMetrics {
  "Seconds since the process started its kernel."
  uptime: Float!
  "Resident memory of the process, bytes."
  memoryUsage: Float
}

type PluginHealthCheck {
  name: String!
  status: HealthCheckStatus!
  message: String
}

type PluginDependencyHealth {
  pluginId: String!
  status: PluginHealthStatus!
}

type MetricFamily {
  name: String!
  "counter, gauge, histogram or summary."
  type: String!
  help: String!
  samples: [MetricSample!]!
}

type MetricSample {
  "The series' own name (a histogram's _bucket, _sum and _count), when it differs from the family's."
  name: String
  labels: [MetricLabel!]!
  value: Float!
}

type MetricLabel {
  name: String!
  value: String!
}

type PluginStartupResult {
  plugin: PluginRef!
  "The process the plugin runs in."
  process: String!
  success: Boolean!
  "Milliseconds, init and start together."
  duration: Float!
  optional: Boolean!
  error: PluginStartupError
  health: PluginStartupHealth
}

type PluginRef {
  name: String!
  version: String!
}

type PluginStartupError {
  name: String!
  message: String!
  code: String
}

type PluginStartupHealth {
  healthy: Boolean!
  timestamp: DateTime!
}
`;
