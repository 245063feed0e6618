export function SearchForm({ q }: { q: string }) {
  return (
    <form className="search" method="get" action="/" role="search">
      <label htmlFor="catalog-q">Search the catalog</label>
      <div className="search__row">
        <input id="catalog-q" name="q" type="search" defaultValue={q} maxLength={200} placeholder="e.g. mug" />
        <button type="submit" className="button">
          Search
        </button>
      </div>
    </form>
  );
}
