"use server";

import { cookies } from "next/headers";
import { redirect } from "next/navigation";

import { isProduction, opsToken } from "@/lib/env";
import { OPS_COOKIE, sameSecret, sessionValue } from "@/lib/ops-api";

const SESSION_SECONDS = 8 * 60 * 60;

/** Sign in to /ops with the configured token; sets an httpOnly, SameSite=Strict session cookie. */
export async function signIn(formData: FormData): Promise<void> {
  const token = opsToken();
  const presented = formData.get("token");
  if (token === null || typeof presented !== "string" || !sameSecret(presented.trim(), token)) {
    redirect("/ops?denied=1");
  }
  (await cookies()).set(OPS_COOKIE, sessionValue(token), {
    httpOnly: true,
    sameSite: "strict",
    secure: isProduction(),
    path: "/ops",
    maxAge: SESSION_SECONDS,
  });
  redirect("/ops");
}

/** Forget the /ops session. */
export async function signOut(): Promise<void> {
  (await cookies()).delete({ name: OPS_COOKIE, path: "/ops" });
  redirect("/ops");
}
