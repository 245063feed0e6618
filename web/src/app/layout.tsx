import type { Metadata, Viewport } from "next";
import Link from "next/link";
import type { ReactNode } from "react";

import { ClientObservability } from "@/components/error-reporting/client-observability";

import "./globals.css";

export const metadata: Metadata = {
  title: "Catalog",
  description: "Browse the catalog, search it and order.",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1, themeColor: "#ffffff" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <ClientObservability />
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="site-header">
          <nav className="site-header__nav" aria-label="Site">
            <Link href="/" className="site-header__brand" prefetch={false}>
              Catalog
            </Link>
          </nav>
        </header>
        <main id="main" className="container" tabIndex={-1}>
          {children}
        </main>
        <footer className="site-footer">
          <p>Catalog — browse, search and order.</p>
        </footer>
      </body>
    </html>
  );
}
