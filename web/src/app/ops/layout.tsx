import type { Metadata } from "next";
import type { ReactNode } from "react";

import "./ops.css";

export const metadata: Metadata = {
  title: "Operations",
  robots: { index: false, follow: false, nocache: true },
};

export default function OpsLayout({ children }: { children: ReactNode }) {
  return <div className="ops">{children}</div>;
}
