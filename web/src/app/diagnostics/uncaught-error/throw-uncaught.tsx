"use client";

function failLater(): void {
  setTimeout(() => {
    throw new Error("diagnostics: uncaught error");
  }, 0);
}

/** A button whose click ends in an error nothing catches. */
export function ThrowUncaught() {
  return (
    <button type="button" className="button" id="trigger" onClick={failLater}>
      Throw an uncaught error
    </button>
  );
}
