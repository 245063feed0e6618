import { CatalogSkeleton } from "@/components/catalog/catalog-skeleton";

export default function Loading() {
  return (
    <>
      <div className="search search--skeleton" aria-hidden="true" />
      <CatalogSkeleton />
    </>
  );
}
