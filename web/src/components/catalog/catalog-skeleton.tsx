import { PAGE_SIZE } from "@/lib/bff";

/** Placeholders with the exact size of the results they stand in for: no layout shift. */
export function CatalogSkeleton({ label = "Loading the catalog…" }: { label?: string }) {
  return (
    <div className="results" role="status" aria-live="polite">
      <span className="visually-hidden">{label}</span>
      <p className="summary summary--skeleton" aria-hidden="true" />
      <ul className="items" aria-hidden="true">
        {Array.from({ length: PAGE_SIZE }, (_, i) => (
          <li key={i} className="item item--skeleton" />
        ))}
      </ul>
      <div className="pagination pagination--skeleton" aria-hidden="true" />
    </div>
  );
}
