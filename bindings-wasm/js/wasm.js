// The wasm exports, as the rest of the package calls them.
//
// An exception out of an export (a trap from a Rust panic, or a stack overflow that lands
// inside wasm) leaves the instance in an unknown state: the breaker taken out of the table
// for the call is gone, a borrow may never be released, the allocator may be mid-update.
// The cold exports are wrapped so that such an exception reaches the caller as a `WasmFault`,
// which `low_level.js` answers by replacing the instance, and which cannot be mistaken for
// the TypeErrors and RangeErrors `interop.js` throws for bad input. The hot exports
// (`breakerTryAcquire`, `breakerOnSuccess`; the cache guard's per-call `guardBegin`,
// `guardTicket`, `guardFlushKeys`, `guardEnd`) are passed through unwrapped: their callers in
// `index.js` and `cache.js` pass only numbers and strings they checked, and treat every
// exception as a fault.

import * as glue from "./pkg/fact_resilience_wasm.js";

/** An exception that came out of a wasm export (`cause`); the instance must be replaced. */
export class WasmFault {
  constructor(cause) {
    this.cause = cause;
  }
}

function guard(f) {
  return (...args) => {
    try {
      return f(...args);
    } catch (err) {
      throw new WasmFault(err);
    }
  };
}

export const {
  __reinitSync,
  breakerOnSuccess,
  breakerTryAcquire,
  guardBegin,
  guardEnd,
  guardFlushKeys,
  guardTicket,
  takePanicMessage: takePanicMessageRaw,
} = glue;

export const breakerConfig = guard(glue.breakerConfig);
export const breakerCreate = guard(glue.breakerCreate);
export const breakerDispose = guard(glue.breakerDispose);
export const breakerFailures = guard(glue.breakerFailures);
export const breakerHealth = guard(glue.breakerHealth);
export const breakerForceClosed = guard(glue.breakerForceClosed);
export const breakerForceOpen = guard(glue.breakerForceOpen);
export const breakerMetrics = guard(glue.breakerMetrics);
export const breakerOnFailure = guard(glue.breakerOnFailure);
export const breakerOnNeutral = guard(glue.breakerOnNeutral);
export const breakerPoll = guard(glue.breakerPoll);
export const breakerReserve = guard(glue.breakerReserve);
export const breakerReset = guard(glue.breakerReset);
export const breakerRestore = guard(glue.breakerRestore);
export const breakerRetryAfterMs = guard(glue.breakerRetryAfterMs);
export const breakerSetConfig = guard(glue.breakerSetConfig);
export const breakerSnapshot = guard(glue.breakerSnapshot);
export const breakerState = guard(glue.breakerState);
export const breakerTransitionCounts = guard(glue.breakerTransitionCounts);
export const breakerWeights = guard(glue.breakerWeights);
export const boundaryCodes = guard(glue.boundaryCodes);
export const checkNamespace = guard(glue.checkNamespace);
export const defaultNamespace = guard(glue.defaultNamespace);
export const guardCounters = guard(glue.guardCounters);
export const guardStagePath = guard(glue.guardStagePath);
export const guardCreate = guard(glue.guardCreate);
export const guardFlushed = guard(glue.guardFlushed);
export const guardFree = guard(glue.guardFree);
export const guardHasPending = guard(glue.guardHasPending);
export const configStage = guard(glue.configStage);
export const configStageWeight = guard(glue.configStageWeight);
export const healthCheckThresholds = guard(glue.healthCheckThresholds);
export const healthTables = guard(glue.healthTables);
export const liveHandles = guard(glue.liveHandles);
export const metricFamilies = guard(glue.metricFamilies);
export const snapshotVersion = guard(glue.snapshotVersion);
export const takeTransition = guard(glue.takeTransition);
export const originBegin = guard(glue.originBegin);
export const originCounters = guard(glue.originCounters);
export const originCreate = guard(glue.originCreate);
export const originEnd = guard(glue.originEnd);
export const originError = guard(glue.originError);
export const originFree = guard(glue.originFree);
export const originEnded = guard(glue.originEnded);
export const originServed = guard(glue.originServed);
export const originStaleAgeMs = guard(glue.originStaleAgeMs);
export const originWritten = guard(glue.originWritten);
export const originWrittenAll = guard(glue.originWrittenAll);
export const registryAcquire = guard(glue.registryAcquire);
export const registryCounts = guard(glue.registryCounts);
export const registryCreate = guard(glue.registryCreate);
export const registryEnd = guard(glue.registryEnd);
export const registryError = guard(glue.registryError);
export const registryFree = guard(glue.registryFree);
export const registryLevels = guard(glue.registryLevels);
export const registryMetrics = guard(glue.registryMetrics);
export const registryMoved = guard(glue.registryMoved);
export const registryStageLevel = guard(glue.registryStageLevel);
export const registryStageParent = guard(glue.registryStageParent);
export const registryStagePrefix = guard(glue.registryStagePrefix);
export const registryState = guard(glue.registryState);
export const registrySummary = guard(glue.registrySummary);
export const registryUnstage = guard(glue.registryUnstage);
export const __panicForTest = guard(glue.__panicForTest);
export const __throwForTest = guard(glue.__throwForTest);
