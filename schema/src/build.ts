import type { MetadataModel } from '@objectos/metadata';
import type { Inflection } from './inflection.ts';
import type { DataPlan, ObjectPlan } from './plan.ts';
import type { SdlBuilder } from './sdl-builder.ts';

/** The explicit build object passed to every compiler plugin (no shared mutable globals). */
export interface Build {
  model: MetadataModel;
  plan: DataPlan;
  inflect: Inflection;
  sdl: SdlBuilder;
  /** Objects exposed in the API (apiEnabled with at least one method). */
  exposed: ObjectPlan[];
  isExposed(objectName: string): boolean;
}

export interface CompilerPlugin {
  name: string;
  build(b: Build): void;
}
