import { NotFoundWords } from "@/components/status/not-found-words";

export default function OrderNotFound() {
  return <NotFoundWords kind="orders" />;
}
