import { cookies } from "next/headers";
import { notFound } from "next/navigation";
import type { ReactNode } from "react";

import { signOut } from "@/app/ops/actions";
import { OPS_COOKIE, opsAccess } from "@/lib/ops-api";

import { SignInForm } from "./sign-in-form";

/** Renders `children` only for someone allowed to see /ops; otherwise the sign-in form or a 404. */
export async function OpsGate({ denied, children }: { denied: boolean; children: ReactNode }) {
  const access = opsAccess((await cookies()).get(OPS_COOKIE)?.value);
  if (access === "hidden") notFound();
  if (access === "sign-in") return <SignInForm denied={denied} />;
  return (
    <>
      {access === "signed-in" ? (
        <form action={signOut} className="ops-signout">
          <button type="submit" className="ops-button ops-button--quiet">
            Sign out
          </button>
        </form>
      ) : null}
      {children}
    </>
  );
}
