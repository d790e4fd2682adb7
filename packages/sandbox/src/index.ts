export { createSandbox } from './sandbox.ts';
export {
  DEFAULT_MEMORY_BYTES,
  MAX_LOG_LINE_CHARS,
  MAX_LOG_LINES,
  MAX_UPDATES_BYTES,
  ScriptError,
  type Sandbox,
  type SandboxOptions,
  type SandboxStats,
  type ScriptErrorCode,
  type ScriptInput,
  type ScriptResult,
} from './types.ts';
