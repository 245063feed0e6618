/** Find one incident by the code a user quotes (a GET form: works without JavaScript). */
export function IncidentLookup({ invalid }: { invalid: string | null }) {
  return (
    <form action="/ops" method="get" className="ops-lookup" role="search" aria-label="Incident lookup">
      <label htmlFor="ops-incident">Incident code</label>
      <div className="ops-row">
        <input
          id="ops-incident"
          name="incident"
          required
          placeholder="e.g. K7QD-2MXA"
          pattern="[A-Za-z0-9\-]{6,32}"
          defaultValue={invalid ?? ""}
          aria-describedby={invalid ? "ops-incident-error" : undefined}
          aria-invalid={invalid ? true : undefined}
        />
        <button type="submit" className="ops-button">
          Look up
        </button>
      </div>
      {invalid ? (
        <p id="ops-incident-error" className="ops-error" role="alert">
          An incident code is 6 to 32 letters, digits and dashes.
        </p>
      ) : null}
    </form>
  );
}
