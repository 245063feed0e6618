"use client";

import { useEffect, useState } from "react";

/** Asks for an image from another origin, which the site's `img-src 'self' data:` refuses. */
export function LoadForeignImage() {
  const [state, setState] = useState("loading");
  useEffect(() => {
    const image = new Image();
    image.onerror = () => setState("blocked");
    image.onload = () => setState("loaded");
    image.src = "https://csp-probe.invalid/pixel.png";
  }, []);
  return <p id="probe">Foreign image: {state}</p>;
}
