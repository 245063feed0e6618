import { signIn } from "@/app/ops/actions";

/** Asks for the ops token (a plain form: works without JavaScript). */
export function SignInForm({ denied }: { denied: boolean }) {
  return (
    <section className="ops-card ops-signin" aria-labelledby="ops-signin-title">
      <h1 id="ops-signin-title">Operations sign-in</h1>
      {denied ? (
        <p className="ops-error" role="alert">
          That token is not valid.
        </p>
      ) : null}
      <form action={signIn}>
        <label htmlFor="ops-token">Ops token</label>
        <div className="ops-row">
          <input
            id="ops-token"
            name="token"
            type="password"
            autoComplete="current-password"
            required
            aria-invalid={denied || undefined}
          />
          <button type="submit" className="ops-button">
            Sign in
          </button>
        </div>
      </form>
    </section>
  );
}
