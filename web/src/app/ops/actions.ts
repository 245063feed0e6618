"use server";

import { cookies } from "next/headers";
import { redirect } from "next/navigation";

import { isProduction, opsToken } from "@/lib/env";
import { normalizeFingerprint } from "@/lib/ops";
import { OPS_COOKIE, opsAccess, sameSecret, sessionValue, setResolution } from "@/lib/ops-api";

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

/** Resolve or reopen one error group (only for someone allowed to see /ops), then show its page. */
export async function setGroupResolution(formData: FormData): Promise<void> {
  const access = opsAccess((await cookies()).get(OPS_COOKIE)?.value);
  const raw = formData.get("fingerprint");
  const fingerprint = typeof raw === "string" ? normalizeFingerprint(raw) : null;
  if (access !== "open" && access !== "signed-in") redirect("/ops");
  if (fingerprint === null) redirect("/ops");
  await setResolution(fingerprint, formData.get("resolved") === "1");
  redirect(`/ops/errors/${fingerprint}`);
}
