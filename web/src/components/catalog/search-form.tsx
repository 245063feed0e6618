/** A plain GET form: searching works before (and without) any JavaScript. */
export function SearchForm({ q }: { q: string }) {
  return (
    <form className="search" method="get" action="/" role="search" aria-label="Catalog">
      <label htmlFor="catalog-q">Search the catalog</label>
      <div className="search__row">
        <input
          id="catalog-q"
          name="q"
          type="search"
          defaultValue={q}
          maxLength={200}
          placeholder="e.g. mug"
          autoComplete="off"
        />
        <button type="submit" className="button">
          Search
        </button>
      </div>
    </form>
  );
}
