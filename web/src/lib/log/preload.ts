import { routeConsole } from "./console-records";

/**
 * Loaded before the server (`node --import ./log-preload.mjs server.js`, built into the
 * standalone output by `scripts/build-log-preload.mjs`): Next's start-up lines, printed before
 * `instrumentation.ts` runs, become JSON records too. `register()` then finds console routed.
 */
routeConsole();
