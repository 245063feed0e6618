export default function Loading() {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="visually-hidden">Loading the catalog…</span>
      <ul className="items" aria-hidden="true">
        {Array.from({ length: 6 }, (_, i) => (
          <li key={i} className="item item--skeleton" />
        ))}
      </ul>
    </div>
  );
}
