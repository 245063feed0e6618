import { NotFoundWords } from "@/components/status/not-found-words";

export default function ProductNotFound() {
  return <NotFoundWords kind="products" />;
}
