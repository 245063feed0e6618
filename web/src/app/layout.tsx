import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";

import "./globals.css";

export const metadata: Metadata = {
  title: "Catalog",
  description: "Browse the catalog and place quick orders.",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="site-header">
          <Link href="/" className="site-header__brand">
            Catalog
          </Link>
        </header>
        <main className="container">{children}</main>
      </body>
    </html>
  );
}
