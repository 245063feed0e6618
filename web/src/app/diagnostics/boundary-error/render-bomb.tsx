"use client";

import { useState } from "react";

function Exploding(): never {
  throw new Error("diagnostics: render error");
}

/** Renders fine until its button is clicked, then throws while rendering. */
export function RenderBomb() {
  const [armed, setArmed] = useState(false);
  return armed ? (
    <Exploding />
  ) : (
    <button type="button" className="button" id="trigger" onClick={() => setArmed(true)}>
      Throw while rendering
    </button>
  );
}
