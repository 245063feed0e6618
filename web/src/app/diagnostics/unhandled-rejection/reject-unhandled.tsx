"use client";

async function loadSomething(): Promise<void> {
  await Promise.resolve();
  throw new Error("diagnostics: unhandled rejection");
}

/** A button whose click leaves a rejected promise nobody handles. */
export function RejectUnhandled() {
  return (
    <button type="button" className="button" id="trigger" onClick={() => void loadSomething()}>
      Reject a promise
    </button>
  );
}
